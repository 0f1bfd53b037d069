"""Test settings: the real PostgreSQL and RabbitMQ on loopback (DEVELOPERS.md), fast hashing."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/assay")
os.environ.setdefault("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")

from config.settings.base import *  # noqa: F403
from config.settings.base import DATA_DIR

DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Each test run writes files under its own folder (set by tests/conftest.py per xdist worker).
ARTIFACT_DIR = DATA_DIR / "test" / "artifacts"
KEY_DIR = DATA_DIR / "test" / "keys"
CHECKPOINT_FILE = DATA_DIR / "test" / "checkpoints.jsonl"
# Tests serve static files from the source folders (no collectstatic step).
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
