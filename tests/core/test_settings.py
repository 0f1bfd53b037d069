import os
import secrets
import subprocess
import sys

from django.conf import settings


def test_production_settings_pass_the_deploy_check():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "ASSAY_SECRET_KEY": secrets.token_urlsafe(64),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_a_missing_or_weak_secret_key():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.production",
           "ASSAY_SECRET_KEY": "short"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=settings.BASE_DIR,
                            env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "ASSAY_SECRET_KEY must be set" in result.stderr


def test_tests_run_on_postgresql_and_rabbitmq():
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings.CELERY_BROKER_URL.startswith("amqp://")


def test_every_task_ends_before_rabbitmq_takes_it_back():
    """Tasks are acknowledged late: one still running at RabbitMQ's consumer_timeout (30 minutes
    by default) gets its channel closed and is delivered again. Each task found by autodiscovery
    (no CELERY_IMPORTS list) has a soft limit below its hard limit, both below that timeout."""
    from config.celery import app

    app.loader.import_default_modules()
    consumer_timeout_s = 30 * 60
    assert not hasattr(settings, "CELERY_IMPORTS")
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert {"core.tasks.flush_security_counts", "core.checkpoint_audit_chain",
            "governance.expire_waivers", "governance.scan_due_dates"} <= set(ours)
    for name, task in ours.items():
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft and hard and soft < hard < consumer_timeout_s, (name, soft, hard)
    assert app.tasks["core.checkpoint_audit_chain"].time_limit == 300
