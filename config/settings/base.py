"""Settings shared by every environment.

Production differs only by environment variables (django-environ). With no variables
set, the platform runs on the embedded default: SQLite, Celery tasks eager, media on
local disk, served on localhost over plain HTTP with a public development key.

Anything else (a ``DATABASE_URL`` that is not SQLite, or a host that is not local) is
production, and fails closed: it refuses to start with the embedded key, and secure
cookies, HSTS and the HTTPS redirect are on unless turned off explicitly.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
(BASE_DIR / "var").mkdir(exist_ok=True)
environ.Env.read_env(env.str("DJANGO_ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# config.checks.EMBEDDED_SECRET_KEY (kept equal): public, so it serves the embedded default only.
EMBEDDED_SECRET_KEY = "fontanelle-embedded-default-not-for-production-use-0123456789abcdef"  # noqa: S105
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=EMBEDDED_SECRET_KEY)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "testserver", "::1", "[::1]")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

_database_url = env.str("DATABASE_URL", default="")
#: The embedded default: SQLite, reachable on localhost only. Everything else is production.
EMBEDDED_DEFAULT = (not _database_url or _database_url.startswith("sqlite:")) and all(
    host in LOCAL_HOSTS for host in ALLOWED_HOSTS
)
if SECRET_KEY == EMBEDDED_SECRET_KEY and not EMBEDDED_DEFAULT:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set (or is the embedded development key): that key is public and "
        "serves only the embedded default (SQLite on localhost), not a DATABASE_URL or non-local "
        "DJANGO_ALLOWED_HOSTS. Set DJANGO_SECRET_KEY to a long random value, e.g. the output of "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "trials",
    "readers",
    "inference",
    "analysis",
    "preferences",
    "accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The logged-in person's stored language (after LocaleMiddleware: it overrides the browser's).
    "preferences.middleware.UserLanguageMiddleware",
    # Django's MessageMiddleware for pages; skipped on /api/ (no view there flashes a message).
    "config.middleware.PageMessageMiddleware",
    # Before any process_view (CSRF reads the body there): refuses a too-large declared length.
    "config.uploads.UploadLimitMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASES = {
    "default": env.db(
        "DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'fontanelle.sqlite3'}"
    ),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default is written by two processes in the demo (the server and the demo
    # builder): WAL lets readers go on while the other writes; a write waits for the other's
    # transaction (begun IMMEDIATE, so it never fails midway on a lock upgrade).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 60}
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "FONTANELLE_DB_SERVER_SIDE_BINDING", default=True
):
    # Parameters bound by the server, and a statement run five times on a connection
    # prepared (Django turns psycopg's preparing off unless prepare_threshold is given), so
    # PostgreSQL stops parsing and planning the hot path's queries each time (half a read
    # submission's database CPU). Turn it off behind a connection pooler in transaction mode
    # that loses prepared statements (PgBouncer before 1.21).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": 5}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The API throttles count here: in production a cache every process shares (e.g. redis://).
CACHES = {"default": env.cache("DJANGO_CACHE_URL", default="locmemcache://")}
#: Where sessions live: "db" (the embedded default), "cached_db" (read from the cache, written
#: through to the database) or "cache" (the cache only), or any dotted SESSION_ENGINE. A cached
#: engine needs a cache every process shares (DJANGO_CACHE_URL=redis://…), or a logout in one
#: process would leave the session alive in the others' local caches: with the local-memory
#: cache the default stays "db"; with a shared cache it is "cached_db" (one query less per request).
_shared_cache = (
    "locmem" not in CACHES["default"]["BACKEND"] and "dummy" not in CACHES["default"]["BACKEND"]
)
_session_engine = env.str(
    "FONTANELLE_SESSION_ENGINE", default="cached_db" if _shared_cache else "db"
)
#: "db" is Django's database engine with its per-request load written once (config/sessions.py).
SESSION_ENGINE = (
    _session_engine
    if "." in _session_engine
    else "config.sessions"
    if _session_engine == "db"
    else f"django.contrib.sessions.backends.{_session_engine}"
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend with the per-request user load written once (accounts/backends.py).
    "accounts.backends.SessionUserBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# The client's address behind reverse proxies: how many trusted proxies append to
# X-Forwarded-For (0: none, REMOTE_ADDR is the client). Login lockout and API throttles use
# it (config.accounts.client_ip_address); only behind a proxy is X-Forwarded-Proto trusted.
FONTANELLE_TRUSTED_PROXY_COUNT = env.int("FONTANELLE_TRUSTED_PROXY_COUNT", default=0)

# Lockout after repeated failed logins (django-axes): per account from any address, and per
# address against any account (a higher limit: a site's readers may share one address).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
FONTANELLE_LOGIN_IP_FAILURE_LIMIT = env.int("FONTANELLE_LOGIN_IP_FAILURE_LIMIT", default=20)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.5)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_HANDLER = "config.accounts.LoginThrottleHandler"
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "config.accounts.client_ip_address"
# The same rule for django-ipware, should the callable above ever be removed.
AXES_IPWARE_PROXY_COUNT = FONTANELLE_TRUSTED_PROXY_COUNT or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if FONTANELLE_TRUSTED_PROXY_COUNT else ("REMOTE_ADDR",)
)

# E-mail (invitations, password reset): printed on the console in the embedded default.
# SMTP by EMAIL_URL (django-environ, e.g. smtp+tls://user:password@mail.example.org:587)
# or by EMAIL_HOST / EMAIL_PORT / EMAIL_HOST_USER / EMAIL_HOST_PASSWORD / EMAIL_USE_TLS.
if env.str("EMAIL_URL", default=""):
    _email = env.email_url("EMAIL_URL")
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email.get("EMAIL_HOST", "")
    EMAIL_PORT = _email.get("EMAIL_PORT") or 25
    EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS", False))
    EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL", False))
else:
    EMAIL_HOST = env.str("EMAIL_HOST", default="")
    EMAIL_BACKEND = env.str(
        "EMAIL_BACKEND",
        default="django.core.mail.backends.smtp.EmailBackend"
        if EMAIL_HOST
        else "django.core.mail.backends.console.EmailBackend",
    )
    EMAIL_PORT = env.int("EMAIL_PORT", default=25)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Fontanelle <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# How long an invitation link works; a password-reset link works for PASSWORD_RESET_TIMEOUT s.
FONTANELLE_INVITATION_DAYS = env.int("FONTANELLE_INVITATION_DAYS", default=7)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=24 * 3600)
# Two-factor login (TOTP, django-otp): the name authenticator apps show.
OTP_TOTP_ISSUER = "Fontanelle"

SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
# Production is HTTPS only unless turned off explicitly; the embedded default is plain HTTP.
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not EMBEDDED_DEFAULT)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not EMBEDDED_DEFAULT)
SECURE_HSTS_SECONDS = env.int(
    "DJANGO_SECURE_HSTS_SECONDS", default=0 if EMBEDDED_DEFAULT else 365 * 24 * 3600
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
# Without a proxy in front, the header is the client's to forge (and would pass for HTTPS).
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if FONTANELLE_TRUSTED_PROXY_COUNT else None
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
# The catalogs (locale/zh_Hans/LC_MESSAGES/django.po, djangojs.po and their compiled .mo) are
# in the repository; refresh with `make messages` (docs in locale/GLOSSARY.md). Without a
# stored choice (preferences.UserPreference) the browser's Accept-Language decides; dates and
# numbers follow the active language's formats (Django's localization is always on).
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))

# Media on any django-storages backend when configured (e.g. S3 via AWS_* variables).
_media_backend = env.str(
    "DJANGO_MEDIA_STORAGE", default="django.core.files.storage.FileSystemStorage"
)
STORAGES = {
    "default": {"BACKEND": _media_backend},
    "staticfiles": {
        "BACKEND": env.str(
            "DJANGO_STATICFILES_STORAGE",
            default="whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}
# Largest upload accepted (bytes); larger files are refused with a clear error (413) before
# they are stored whole: by their declared length, else once the stream passes the limit.
FONTANELLE_MAX_UPLOAD_BYTES = env.int("FONTANELLE_MAX_UPLOAD_BYTES", default=512 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = [
    "config.uploads.UploadLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

REST_FRAMEWORK = {
    # Pages use the session; scripts send a personal API token (Authorization: Bearer fnt_…).
    # The session comes first, so a request without credentials is still answered 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "accounts.authentication.ApiTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    # Counted in the default cache (CACHES above), per user, or per client address.
    "DEFAULT_THROTTLE_CLASSES": [
        "config.accounts.AnonymousApiThrottle",
        "config.accounts.UserApiThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("FONTANELLE_API_ANON_RATE", default="60/minute"),
        "user": env.str("FONTANELLE_API_USER_RATE", default="1200/minute"),
    },
    "NUM_PROXIES": FONTANELLE_TRUSTED_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Fontanelle API",
    "DESCRIPTION": "Blinded, randomized reader studies of NCLS for neonatal cranial ultrasound.",
    "VERSION": "0.1.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # The docs page loads Swagger UI from our own static files: the CSP allows no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Several models share field names (kind, status) with different choices: name each set.
    "ENUM_NAME_OVERRIDES": {
        "StudyStatusEnum": "trials.models.StudyStatus",
        "DatasetKindEnum": "trials.models.DatasetKind",
        "AssetKindEnum": "trials.models.AssetKind",
        "RenditionKindEnum": "trials.models.RenditionKind",
        "RenditionStatusEnum": "trials.models.RenditionStatus",
        "MaterialStatusEnum": "trials.models.MaterialStatus",
    },
}

# Celery: Redis broker in production; eager in the embedded default.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="memory://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="cache+memory://")
CELERY_TASK_ALWAYS_EAGER = env.bool(
    "CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL == "memory://"
)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

# The NCLS pipeline the inference task calls: the one way to swap it (a dotted path,
# resolved at each call by inference.services.pipeline_runner; tests override the setting).
# A test double or a remote inference client fits; demo code is refused (fontanelle.E011).
FONTANELLE_PIPELINE_RUNNER = env.str(
    "FONTANELLE_PIPELINE_RUNNER", default="inference.runner.run_ncls_pipeline"
)

# Bytes of NCLS results each worker process keeps for sweeps it has already read (frame
# indices and heatmap PNGs, not decoded frames; least recently used dropped first; 0: none).
FONTANELLE_AI_RESULT_CACHE_BYTES = env.int(
    "FONTANELLE_AI_RESULT_CACHE_BYTES", default=256 * 1024 * 1024
)

# Where trained model checkpoints live (the model registry points into it).
FONTANELLE_MODEL_DIR = Path(
    env.str("FONTANELLE_MODEL_DIR", default=str(BASE_DIR / "var" / "models"))
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    # One line per eager task drowns the demo's progress; workers log through their own setup.
    "loggers": {"celery.app.trace": {"level": "WARNING"}},
}
