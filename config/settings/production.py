"""Production settings: everything in base, with the secret required and transport hardened.

`manage.py check --deploy --fail-level WARNING` passes with these (tests/core/test_settings.py).
"""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import env, env_bool, env_int

SECRET_KEY = env("ASSAY_SECRET_KEY", "")
if not SECRET_KEY or SECRET_KEY.startswith("insecure-") or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured(
        "ASSAY_SECRET_KEY must be set to a random string of at least 50 characters in production, "
        "e.g. python -c 'import secrets; print(secrets.token_urlsafe(64))'"
    )
DEBUG = False

SECURE_SSL_REDIRECT = env_bool("ASSAY_SSL_REDIRECT", True)
# Load balancers and orchestrators probe these over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("ASSAY_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
