"""Assay settings, read from environment variables.

With nothing configured Assay runs in *embedded mode*: SQLite in ``var/`` and a filesystem Celery
broker, so one command brings up a working site on a fresh machine. Set ``DATABASE_URL`` and
``CELERY_BROKER_URL`` for PostgreSQL and RabbitMQ (what tests and production use).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import overload

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from core.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent


@overload
def env(name: str, default: str) -> str: ...
@overload
def env(name: str, default: None = None) -> str | None: ...
def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int) -> int:
    raw = env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from exc


def env_bool(name: str, default: bool) -> bool:
    raw = env(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


def env_json_map(name: str) -> dict[str, list[str]]:
    """A JSON object of names to a name or a list of names, e.g. {"mrm-validators": ["validator"]}."""
    raw = env(name)
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a JSON object, e.g. "
                                   f'{{"group-name": ["role"]}}; it does not parse: {exc}') from exc
    if not isinstance(value, dict) or not all(
            isinstance(v, str) or (isinstance(v, list) and all(isinstance(i, str) for i in v))
            for v in value.values()):
        raise ImproperlyConfigured(f"{name} must map each group name to a name or a list of "
                                   f'names, e.g. {{"group-name": ["role"]}}; got {raw!r}')
    return {str(k): [v] if isinstance(v, str) else list(v) for k, v in value.items()}


# Where Assay keeps files: artifacts, keys, the embedded database and broker. Production points
# these at durable storage (see README).
DATA_DIR = Path(env("ASSAY_DATA_DIR", str(BASE_DIR / "var")))
ARTIFACT_DIR = Path(env("ASSAY_ARTIFACT_DIR", str(DATA_DIR / "artifacts")))
# The file store in an S3-compatible bucket instead of ARTIFACT_DIR when ASSAY_S3_BUCKET is set
# (registry/storage.py, through django-storages; credentials from the usual AWS variables or the
# instance's role). Downloads stream through Assay, or redirect to a URL signed for
# ASSAY_S3_SIGNED_URL_TTL_S seconds when ASSAY_S3_SIGNED_URL_DOWNLOADS is on.
S3_BUCKET = env("ASSAY_S3_BUCKET", "")
S3_ENDPOINT_URL = env("ASSAY_S3_ENDPOINT_URL", "")  # MinIO, Ceph...; empty: AWS
S3_REGION = env("ASSAY_S3_REGION", "us-east-1")
S3_PREFIX = env("ASSAY_S3_PREFIX", "files")
S3_SIGNED_URL_DOWNLOADS = env_bool("ASSAY_S3_SIGNED_URL_DOWNLOADS", False)
S3_SIGNED_URL_TTL_S = env_int("ASSAY_S3_SIGNED_URL_TTL_S", 300)
KEY_DIR = Path(env("ASSAY_KEY_DIR", str(DATA_DIR / "keys")))
CHECKPOINT_FILE = Path(env("ASSAY_CHECKPOINT_FILE", str(DATA_DIR / "checkpoints.jsonl")))

SECRET_KEY = env("ASSAY_SECRET_KEY", "insecure-development-key-change-me")
DEBUG = env_bool("ASSAY_DEBUG", False)
ALLOWED_HOSTS = env_list("ASSAY_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("ASSAY_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "core.admin_config.AssayAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "core",
    "registry",
    "governance",
    "evaluation",
    "serving",
    "monitoring",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.RequestIdMiddleware",
    "core.metrics.RequestMetricsMiddleware",
    "core.middleware.RequestGuardMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.middleware.DomainErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "core.context_processors.navigation",
            ],
        },
    },
]

# Connections are kept for a minute and checked before each request reuses one, so a connection a
# database restart killed never reaches a request (docs/outages.md).
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{DATA_DIR / 'assay.sqlite3'}"), conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database host that does not answer fails a request within seconds (503), not minutes.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int(
        "ASSAY_DB_CONNECT_TIMEOUT_S", 5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)  # embedded mode keeps its database here
    # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of failing mid-way.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
# When set, every connection switches to this PostgreSQL role after connecting: the application
# role that may only SELECT and INSERT on the audit table (see README, "Database roles").
DATABASE_APP_ROLE = env("ASSAY_DB_APP_ROLE")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Single sign-on through an OpenID Connect provider (core/sso, docs/sso.md): on when
# ASSAY_OIDC_ISSUER is set. The provider's endpoints are read from its discovery document unless
# given one by one. Roles and teams come from the groups claim through the two maps, re-read at
# every sign-in; password sign-in is then refused except to the break-glass administrators.
OIDC_ISSUER = env("ASSAY_OIDC_ISSUER", "").rstrip("/")
SSO_ENABLED = bool(OIDC_ISSUER)
SSO_PROVIDER_NAME = env("ASSAY_OIDC_PROVIDER_NAME", "single sign-on")
OIDC_RP_CLIENT_ID = env("ASSAY_OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = env("ASSAY_OIDC_CLIENT_SECRET", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = env("ASSAY_OIDC_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = env("ASSAY_OIDC_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = env("ASSAY_OIDC_USERINFO_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = env("ASSAY_OIDC_JWKS_ENDPOINT", "")
OIDC_OP_END_SESSION_ENDPOINT = env("ASSAY_OIDC_END_SESSION_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = env("ASSAY_OIDC_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env("ASSAY_OIDC_SCOPES", "openid email profile groups")
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_TIMEOUT = env_int("ASSAY_OIDC_TIMEOUT_S", 10)
OIDC_AUTHENTICATION_CALLBACK_URL = "sso-callback"
OIDC_USERNAME_CLAIM = env("ASSAY_OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_GROUPS_CLAIM = env("ASSAY_OIDC_GROUPS_CLAIM", "groups")
OIDC_GROUP_ROLES = env_json_map("ASSAY_OIDC_GROUP_ROLES")
OIDC_GROUP_TEAMS = env_json_map("ASSAY_OIDC_GROUP_TEAMS")
# Roles of someone whose groups map to none; empty: they are refused with a "no role" page.
OIDC_DEFAULT_ROLES = env_list("ASSAY_OIDC_DEFAULT_ROLES")
BREAK_GLASS_USERS = env_list("ASSAY_BREAK_GLASS_USERS")
# A sign-off's re-authentication at the provider must have happened within this many seconds.
OIDC_REAUTH_WINDOW_S = env_int("ASSAY_OIDC_REAUTH_WINDOW_S", 300)
# Signing out of Assay signs out at the provider too (core/sso/logout.py) for a session that came
# through it, when the provider has an end-session endpoint: the ID token is kept in the session
# for the provider's id_token_hint.
OIDC_PROVIDER_LOGOUT = env_bool("ASSAY_OIDC_PROVIDER_LOGOUT", True)
OIDC_STORE_ID_TOKEN = OIDC_PROVIDER_LOGOUT
AUTHENTICATION_BACKENDS = ["core.sso.backends.LocalPasswordBackend",
                           *(["core.sso.backends.SsoBackend"] if SSO_ENABLED else [])]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# With Redis down, sign-in throttling fails closed (core/throttle.py); short timeouts make that a
# quick 503 rather than a hung request.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env("REDIS_URL"),
         "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}
        if env("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "assay_cache"}
    )
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT: Path | None = Path(env("ASSAY_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]

# Uploads: Django streams anything larger than the memory limit to a temporary file, which the
# artifact checks read in chunks. The cap is enforced by the artifact service (and its message).
MAX_ARTIFACT_BYTES = env_int("ASSAY_MAX_ARTIFACT_MB", 200) * 1024 * 1024
MAX_DATASET_BYTES = env_int("ASSAY_MAX_DATASET_MB", 100) * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "core.uploads.CappedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Login throttling: failures allowed per account and per client address within the window.
LOGIN_FAILURES_PER_ACCOUNT = env_int("ASSAY_LOGIN_FAILURES_PER_ACCOUNT", 5)
LOGIN_FAILURES_PER_ADDRESS = env_int("ASSAY_LOGIN_FAILURES_PER_ADDRESS", 20)
LOGIN_THROTTLE_WINDOW_S = env_int("ASSAY_LOGIN_THROTTLE_WINDOW_S", 15 * 60)
# How many reverse proxies in front of Assay append to X-Forwarded-For. 0 (the default) ignores
# the header entirely, so a client cannot choose the address it is throttled under.
TRUSTED_PROXY_COUNT = env_int("ASSAY_TRUSTED_PROXY_COUNT", 0)
API_TOKEN_MAX_DAYS = env_int("ASSAY_API_TOKEN_MAX_DAYS", 365)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Checked before a view reads its input: who may not do something gets 403, not field errors.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "core.api.permissions.AdminWrites",
        "core.api.permissions.AuditorsReadOnly",
    ],
    # DRF's parsers, refusing a NUL character anywhere in a body (core/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.JSONParser",
        "core.api.parsers.FormParser",
        "core.api.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    # OPTIONS is not part of the API (the schema documents it); DRF's metadata answer also
    # called get_object() on list-level PUT actions, a 500.
    "DEFAULT_METADATA_CLASS": None,
    "DEFAULT_FILTER_BACKENDS": [],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Assay API",
    "DESCRIPTION": "Model risk management: inventory, validation, approvals, audit trail.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per choice set that several fields share (role choices in user creation and role
    # grants; a model's status is its newest version's state).
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "core.models.accounts.Role",
        "VersionStateEnum": "registry.models.VersionState",
        "EvidenceStatusEnum": "governance.models.EvidenceStatus",
        "ValidationConclusionEnum": "governance.models.Conclusion",
        "ReviewConclusionEnum": "governance.models.ReviewConclusion",
        "FindingStatusEnum": "governance.models.FindingStatus",
        "WaiverStatusEnum": "governance.models.WaiverStatus",
        "SeverityEnum": "governance.models.Severity",
        "FindingSourceEnum": "governance.models.FindingSource",
        "CommentKindEnum": "governance.models.CommentKind",
        "NotificationKindEnum": "governance.models.NotificationKind",
        "EvidenceOriginEnum": "governance.models.EvidenceOrigin",
        "RequirementLevelEnum": "governance.policy.LEVELS",
        "EndpointStatusEnum": "serving.models.EndpointStatus",
        "RunStatusEnum": "evaluation.models.RunStatus",
        "EndpointChangeActionEnum": "serving.models.ChangeAction",
        "MonitoringStatusEnum": "monitoring.models.PlanStatus",
        "PlanChangeStatusEnum": "monitoring.models.ChangeStatus",
        "MlflowImportStateEnum": "registry.models.ImportState",
        "ArtifactFormEnum": "registry.models.ArtifactForm",
        "DiligenceReviewEnum": "governance.models.DiligenceReview",
        "DiligenceDecisionEnum": "governance.models.vendor.REVIEW_DECISIONS",
        "DecisionEnum": "governance.models.Decision",
        "ToolKindEnum": "governance.models.ToolKind",
        "EntryKindEnum": "registry.models.EntryKind",
        "FindingCategoryEnum": "governance.models.FindingCategory",
        "RootCauseEnum": "governance.models.RootCause",
        "SR117AreaEnum": "governance.models.SR117Area",
        "ChangeClassEnum": "registry.models.ChangeClass",
        "UpstreamFlagEnum": "governance.policy.FLAGS",
    },
}

# Celery. Embedded mode uses kombu's filesystem transport: a separate worker process picks tasks up
# from files, with no server to run, but a task taken by a worker that dies is not redelivered.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = DATA_DIR / "broker"
    for _folder in ("processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ACKS_LATE = True
# Broker outages (docs/outages.md): publishing gives up within seconds, so a request that queues
# work never hangs on a broker that is down (the work waits in the database and is sent again);
# workers reconnect forever; a task running when the connection drops finishes, and its message,
# not acknowledged, is delivered again (the lease makes the duplicate do nothing).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0,
                                    "interval_step": 0.5, "interval_max": 1}
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Every task's time limits unless it sets its own. Tasks are acknowledged late, so a task must end
# before RabbitMQ's consumer_timeout (30 minutes by default) or the broker closes the worker's
# channel and redelivers the task while it still runs. The soft limit raises SoftTimeLimitExceeded
# in the task (its transaction rolls back); the hard limit kills the worker process 5 minutes on.
CELERY_TASK_SOFT_TIME_LIMIT = 20 * 60
CELERY_TASK_TIME_LIMIT = 25 * 60
# Tasks are found in each app's tasks.py (config/celery.py: autodiscover_tasks).
# Evaluations run on their own queue, so that long runs never hold up emails and checkpoints;
# every worker that should run them consumes it (`celery -A config worker -Q celery,evaluations`).
CELERY_TASK_ROUTES = {"evaluation.run_evaluation": {"queue": "evaluations"},
                      "evaluation.evaluate_chunk": {"queue": "evaluations"},
                      "evaluation.merge_chunks": {"queue": "evaluations"},
                      "evaluation.explain_row": {"queue": "evaluations"}}
# Where chords keep count of their finished tasks (e.g. redis://host:6379/0). Without one, a
# large run is evaluated in chunks by one worker instead of fanning out (evaluation/fanout.py).
if env("CELERY_RESULT_BACKEND", ""):
    CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", "")
    CELERY_RESULT_EXPIRES = 24 * 3600
# A worker holds a run by a lease it renews while working (every third of the lease); a task
# redelivered after its worker died takes the run over once the lease has run out. After this
# many attempts a run whose worker keeps dying fails ("worker lost") instead of looping.
EVALUATION_LEASE_S = env_int("ASSAY_EVALUATION_LEASE_S", 90)
EVALUATION_MAX_ATTEMPTS = env_int("ASSAY_EVALUATION_MAX_ATTEMPTS", 3)
# A worker that lost the database (or broker) connection tries again after this many seconds,
# doubling each time (5, 10, 20, 40, then 60 s), five times, without counting an attempt.
EVALUATION_RETRY_BACKOFF_S = env_int("ASSAY_EVALUATION_RETRY_BACKOFF_S", 5)
# A run still queued this long after its task was sent (the broker was down at launch) is sent
# again by the reaper; a duplicate is harmless (the lease).
EVALUATION_REQUEUE_AFTER_S = env_int("ASSAY_EVALUATION_REQUEUE_AFTER_S", 300)
# The same for notification emails; longer than an email's own retries (about 30 minutes), so a
# second task does not mail what the first is still retrying.
NOTIFICATION_EMAIL_RESEND_AFTER_S = env_int("ASSAY_EMAIL_RESEND_AFTER_S", 3600)
# A binary classifier's data set larger than this (bytes of the stored file) is evaluated in
# chunks of EVALUATION_CHUNK_ROWS rows, so the worker's memory is bounded by the chunk, not the
# file (evaluation/chunked.py, docs/evaluation-metrics.md "Chunked evaluation").
EVALUATION_CHUNKED_ABOVE_BYTES = env_int("ASSAY_EVALUATION_CHUNKED_ABOVE_BYTES", 256 * 1024**2)
EVALUATION_CHUNK_ROWS = env_int("ASSAY_EVALUATION_CHUNK_ROWS", 250_000)
# Above this size (and with a result backend) the chunks fan out to several workers as a chord.
EVALUATION_FAN_OUT_ABOVE_BYTES = env_int("ASSAY_EVALUATION_FAN_OUT_ABOVE_BYTES", 1024**3)
# Signed audit checkpoints: how often beat signs the chain's head (only when it grew).
CHECKPOINT_INTERVAL_S = env_int("ASSAY_CHECKPOINT_INTERVAL_S", 600)
# "Verify now" on the audit page runs within the request up to this many events (about two
# seconds), on a worker with progress above it.
VERIFY_INLINE_MAX = env_int("ASSAY_VERIFY_INLINE_MAX", 200_000)
# Exports (reports.jobs): made within the request up to this many rows (models, findings, waivers,
# events), by a worker whose progress the export's page polls above it; PDFs sooner.
REPORTS_WORKER_ABOVE_ROWS = env_int("ASSAY_REPORTS_WORKER_ABOVE_ROWS", 5000)
REPORTS_PDF_WORKER_ABOVE_ROWS = env_int("ASSAY_REPORTS_PDF_WORKER_ABOVE_ROWS", 100)
# An evidence pack copying more stored reports and attachments than this is made by a worker
# (reports/pack.py; so is one of a model with more than three versions).
REPORTS_PACK_WORKER_ABOVE_BYTES = env_int("ASSAY_REPORTS_PACK_WORKER_ABOVE_MB", 50) * 2**20
# A worker holds an export by a lease renewed with its progress; a PDF's layout is one long step,
# so the lease is long. An export still queued this long after its task was sent is sent again.
REPORTS_LEASE_S = env_int("ASSAY_REPORTS_LEASE_S", 900)
REPORTS_REQUEUE_AFTER_S = env_int("ASSAY_REPORTS_REQUEUE_AFTER_S", 300)
REPORTS_MAX_ATTEMPTS = env_int("ASSAY_REPORTS_MAX_ATTEMPTS", 3)
# Imports from MLflow (registry/mlflow_jobs.py): leased, re-sent and failed as exports are. The
# tracking server's token, when it sits behind authentication, comes from the environment only.
MLFLOW_IMPORT_LEASE_S = env_int("ASSAY_MLFLOW_IMPORT_LEASE_S", 900)
MLFLOW_IMPORT_REQUEUE_AFTER_S = env_int("ASSAY_MLFLOW_IMPORT_REQUEUE_AFTER_S", 300)
MLFLOW_IMPORT_MAX_ATTEMPTS = env_int("ASSAY_MLFLOW_IMPORT_MAX_ATTEMPTS", 3)
MLFLOW_TRACKING_TOKEN = env("MLFLOW_TRACKING_TOKEN", "")
CELERY_BEAT_SCHEDULE: dict = {
    "audit-checkpoint": {"task": "core.checkpoint_audit_chain", "schedule": CHECKPOINT_INTERVAL_S},
    # Folded security events (failed logins, denials) of each minute that is over.
    "audit-flush-security-counts": {"task": "core.tasks.flush_security_counts", "schedule": 60.0},
    # Governance: expired waivers (block returns, finding, suspension where the policy says so),
    # then the due-date notifications (reviews, findings, waivers expiring).
    "governance-expire-waivers": {"task": "governance.expire_waivers",
                                  "schedule": env_int("ASSAY_WAIVER_EXPIRY_INTERVAL_S", 300)},
    "governance-scan-due-dates": {"task": "governance.scan_due_dates",
                                  "schedule": env_int("ASSAY_DUE_DATE_SCAN_INTERVAL_S", 3600)},
    # Notification emails whose task never reached a worker (the broker was down): sent again.
    "governance-resend-emails": {"task": "governance.resend_emails", "schedule": 300.0},
    # Evaluation runs whose worker died: taken over, or failed as "worker lost" (never stuck).
    # Also sends again what is still queued after EVALUATION_REQUEUE_AFTER_S (broker outages).
    "evaluation-reap-runs": {"task": "evaluation.reap_runs",
                             "schedule": env_int("ASSAY_REAP_INTERVAL_S", 60)},
    # Monitoring (docs/monitoring.md): queue the check of every plan that is due (each plan's
    # frequency comes from its rules), and delete prediction log rows past their retention.
    "monitoring-scan": {"task": "monitoring.scan",
                        "schedule": env_int("ASSAY_MONITORING_SCAN_INTERVAL_S", 60)},
    # Exports whose task never reached a worker, or whose worker died: sent again, or failed.
    "reports-reap-exports": {"task": "reports.reap_exports",
                             "schedule": env_int("ASSAY_REAP_INTERVAL_S", 60)},
    "registry-reap-mlflow-imports": {"task": "registry.reap_mlflow_imports",
                                     "schedule": env_int("ASSAY_REAP_INTERVAL_S", 60)},
}
# A check counts prediction log rows older than this (the gateway's writer inserts its batches
# up to a second or so after their time stamps); younger rows go into the next window.
MONITORING_LOG_LAG_S = env_int("ASSAY_MONITORING_LOG_LAG_S", 5)

# The serving gateway (docs/gateway.md): its own WSGI app, ``gunicorn serving.gateway.wsgi``.
# The public keys it trusts come from this file on its own host, never from the database
# (``manage.py gateway_trust_export`` writes it).
GATEWAY_TRUSTED_KEYS_FILE = Path(env("ASSAY_GATEWAY_TRUSTED_KEYS",
                                     str(DATA_DIR / "gateway-trusted-keys.json")))
# Each worker re-reads what it may serve this often (ms); a view older than GATEWAY_STALE_MS
# (the database unreachable) serves nothing.
GATEWAY_REFRESH_MS = env_int("ASSAY_GATEWAY_REFRESH_MS", 500)
GATEWAY_STALE_MS = env_int("ASSAY_GATEWAY_STALE_MS", 2000)
GATEWAY_MAX_BODY_BYTES = env_int("ASSAY_GATEWAY_MAX_BODY_BYTES", 1024 * 1024)
GATEWAY_MAX_BATCH_ROWS = env_int("ASSAY_GATEWAY_MAX_BATCH_ROWS", 1000)
# Requests per second per application key unless the key sets its own limit.
GATEWAY_RATE_LIMIT = env_int("ASSAY_GATEWAY_RATE_LIMIT", 100)
# Rate limits are counted in Redis when it is configured, else in each worker's memory.
GATEWAY_REDIS_URL = env("REDIS_URL")
# Canary routing hashes the client's routing key with this secret (HMAC-SHA256).
GATEWAY_ROUTING_SECRET = env("ASSAY_GATEWAY_ROUTING_SECRET", SECRET_KEY + ":gateway-routing")
# The prediction log: share of requests logged (0-1), days kept, input fields dropped or
# replaced by an HMAC (with GATEWAY_LOG_HMAC_SECRET) before they are stored.
GATEWAY_LOG_SAMPLE_RATE = float(env("ASSAY_GATEWAY_LOG_SAMPLE_RATE", "1.0"))
GATEWAY_LOG_RETENTION_DAYS = env_int("ASSAY_GATEWAY_LOG_RETENTION_DAYS", 30)
GATEWAY_LOG_DROP_FIELDS = env_list("ASSAY_GATEWAY_LOG_DROP_FIELDS")
GATEWAY_LOG_HMAC_FIELDS = env_list("ASSAY_GATEWAY_LOG_HMAC_FIELDS")
GATEWAY_LOG_HMAC_SECRET = env("ASSAY_GATEWAY_LOG_HMAC_SECRET", SECRET_KEY + ":gateway-log")
GATEWAY_LOG_FLUSH_MS = env_int("ASSAY_GATEWAY_LOG_FLUSH_MS", 1000)
# One JSON line per request on the gateway's log (off for benchmarks of the bare path).
GATEWAY_REQUEST_LOG = env_bool("ASSAY_GATEWAY_REQUEST_LOG", True)

# Mail: printed to the console (the worker's and web server's logs) unless SMTP is configured.
EMAIL_BACKEND = env("ASSAY_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("ASSAY_FROM_EMAIL", "assay@localhost")
EMAIL_HOST = env("ASSAY_SMTP_HOST", "localhost")
EMAIL_PORT = env_int("ASSAY_SMTP_PORT", 587)
EMAIL_HOST_USER = env("ASSAY_SMTP_USER", "")
EMAIL_HOST_PASSWORD = env("ASSAY_SMTP_PASSWORD", "")
EMAIL_USE_TLS = env_bool("ASSAY_SMTP_STARTTLS", True)
EMAIL_TIMEOUT = 20
# The address people reach Assay at, for links in emails (e.g. https://assay.example.com).
ASSAY_BASE_URL = env("ASSAY_BASE_URL", "http://127.0.0.1:8000")

# Structured logs (core/logs.py): one JSON object per line with the request's or task's id,
# secrets redacted; "text" for the same as plain lines. Workers log the same way.
LOGGING = logging_config(fmt=env("ASSAY_LOG_FORMAT", "json"), level=env("ASSAY_LOG_LEVEL", "INFO"))
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# /metrics (core/metrics.py) is off until a token is set; scrape it with
# "Authorization: Bearer <token>". The gateway's /metrics honours the same token when it is set.
METRICS_TOKEN = env("ASSAY_METRICS_TOKEN", "")
