"""Root URL configuration."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.views import LoginView, admin_login
from preferences.views import set_language
from trials.views import home

urlpatterns = [
    path("", home, name="home"),
    # Django's login, asking for the TOTP code of those who turned two-factor login on.
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Password reset by e-mail (Django's views; templates in templates/registration/).
    path("accounts/password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("", include("accounts.urls")),
    # The admin logs in through the site's login (two-factor included).
    path("admin/login/", admin_login),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # The language switch (Django's set_language, and the choice is stored on the person).
    path("i18n/setlang/", set_language, name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    # Translations for the pages' JavaScript (a script file: the CSP allows no inline script).
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("", include("trials.urls")),
    path("", include("readers.urls")),
    path("", include("inference.urls")),
    path("", include("analysis.planner_urls")),  # before analysis.urls: "planner" is no report key
    path("", include("analysis.urls")),
]

# An upload stopped at FONTANELLE_MAX_UPLOAD_BYTES is answered 413 with the limit.
handler400 = "config.uploads.bad_request"
