"""URL routes of the accounts app: pages and API."""

from django.urls import path

from accounts import api, views

app_name = "accounts"

urlpatterns = [
    path("accounts/", views.account, name="account"),
    path("accounts/login/verify/", views.login_verify, name="login-verify"),
    path("accounts/two-factor/", views.two_factor, name="two-factor"),
    path("accounts/tokens/", views.tokens, name="tokens"),
    path("accounts/tokens/<uuid:token_id>/revoke/", views.token_revoke, name="token-revoke"),
    path("accounts/invitations/<str:token>/", views.invitation_page, name="invitation"),
    path("studies/<uuid:study_id>/people/", views.members, name="members"),
    path("studies/<uuid:study_id>/people/invite/", views.invite, name="invite"),
    path(
        "studies/<uuid:study_id>/people/invitations/<uuid:invitation_id>/withdraw/",
        views.invitation_withdraw,
        name="invitation-withdraw",
    ),
    path(
        "studies/<uuid:study_id>/people/<uuid:membership_id>/end/",
        views.member_end,
        name="member-end",
    ),
    # API
    path(
        "api/invitations/accept/", api.InvitationAcceptApi.as_view(), name="api-invitation-accept"
    ),
    path(
        "api/studies/<uuid:study_pk>/invitations/",
        api.StudyInvitationsApi.as_view(),
        name="api-invitations",
    ),
    path(
        "api/studies/<uuid:study_pk>/invitations/<uuid:pk>/withdraw/",
        api.InvitationWithdrawApi.as_view(),
        name="api-invitation-withdraw",
    ),
    path(
        "api/studies/<uuid:study_pk>/members/<uuid:pk>/end/",
        api.MembershipEndApi.as_view(),
        name="api-member-end",
    ),
    path("api/tokens/", api.ApiTokensApi.as_view(), name="api-tokens"),
    path("api/tokens/<uuid:pk>/revoke/", api.ApiTokenRevokeApi.as_view(), name="api-token-revoke"),
]
