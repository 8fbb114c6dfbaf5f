"""People and their ways in: study invitations, password reset, two-factor login, API tokens."""
