"""People and their ways in: invitations to a study, password reset, two-factor login, API tokens."""
