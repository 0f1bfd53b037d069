"""Notification emails leave through a Celery task queued once the transaction commits, never over
SMTP inside the request: the request queues, the worker sends. The task gives up quietly when
the notification is gone, retries only what a mail server refused for now, and never touches the
inbox row. Once end to end, through RabbitMQ to a real worker."""

from __future__ import annotations

import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend

from governance import services, tasks
from governance.models import Notification
from governance.services import notifications

pytestmark = pytest.mark.django_db


def test_a_request_queues_the_email_on_commit_and_sends_none(
        walk, draft, api, people, mailoutbox, queued_emails, django_capture_on_commit_callbacks):
    walk.submit(draft)
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.as_(people["rhea"]).post(f"/api/v1/versions/{draft.pk}/assign-validator/",
                                                {"validator": "victor"})
    assert response.status_code == 200, response.json()
    row = Notification.objects.get(user=people["victor"], kind="assignment")
    # Nothing was sent, nor even queued, while the request's transaction was open.
    assert not mailoutbox and not queued_emails.ids
    for callback in callbacks:  # the transaction commits
        callback()
    assert queued_emails.ids == [row.pk] and not mailoutbox
    assert queued_emails.run() == 1  # the worker's turn
    [message] = mailoutbox
    assert message.to == ["victor@example.org"]
    assert message.subject == f"[Assay] You validate {draft}"


def test_the_task_sends_the_email_with_a_link_to_the_configured_address(people, settings):
    settings.ASSAY_BASE_URL = "https://assay.example.com/"
    dana = people["dana"]
    [row] = services.notify(users=[dana], kind="decision", obj=dana, title="Decided",
                            body="Approved.", url="/models/x/versions/1/workflow/")
    assert tasks.send_notification_email(row.pk) is True
    [message] = mail.outbox
    assert message.to == ["dana@example.org"] and message.subject == "[Assay] Decided"
    assert message.body == "Approved.\n\nhttps://assay.example.com/models/x/versions/1/workflow/"


def test_the_task_does_nothing_for_a_notification_gone_or_a_user_deactivated(people):
    dana = people["dana"]
    [row] = services.notify(users=[dana], kind="decision", obj=dana, title="Decided")
    row.delete()
    assert tasks.send_notification_email(row.pk) is False
    [row] = services.notify(users=[dana], kind="decision", obj=dana, title="Again", period="2")
    dana.is_active = False
    dana.save(update_fields=["is_active"])
    assert tasks.send_notification_email(row.pk) is False
    assert not mail.outbox


class FlakyBackend(EmailBackend):
    """The locmem backend behind a mail server that first fails with ``FlakyBackend.failures``,
    one per attempt, then accepts."""

    failures: list[Exception] = []
    attempts = 0

    def send_messages(self, messages):
        FlakyBackend.attempts += 1
        if FlakyBackend.failures:
            raise FlakyBackend.failures.pop(0)
        return super().send_messages(messages)


@pytest.fixture
def flaky_mail(settings):
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.attempts = 0
    yield FlakyBackend
    FlakyBackend.failures = []


@pytest.mark.parametrize("failure", [
    smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
    smtplib.SMTPResponseException(421, b"Service not available, try again later"),
    smtplib.SMTPRecipientsRefused({"dana@example.org": (450, b"Mailbox busy")}),
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError("timed out"),
])
def test_a_transient_failure_is_retried_and_the_email_sent(people, flaky_mail, failure):
    [row] = services.notify(users=[people["dana"]], kind="decision", obj=people["dana"],
                            title="Decided")
    flaky_mail.failures = [failure, failure]
    result = tasks.send_notification_email.apply(args=[row.pk])
    assert result.get() is True
    assert flaky_mail.attempts == 3 and len(mail.outbox) == 1


@pytest.mark.parametrize("failure", [
    smtplib.SMTPRecipientsRefused({"dana@example.org": (550, b"No such user")}),
    smtplib.SMTPSenderRefused(553, b"Sender address rejected", "assay@localhost"),
    smtplib.SMTPAuthenticationError(535, b"Authentication failed"),
])
def test_a_permanent_failure_is_logged_not_retried_and_the_inbox_row_stays(
        people, flaky_mail, failure, caplog):
    [row] = services.notify(users=[people["dana"]], kind="decision", obj=people["dana"],
                            title="Decided")
    flaky_mail.failures = [failure]
    assert tasks.send_notification_email.apply(args=[row.pk]).get() is False
    assert flaky_mail.attempts == 1 and not mail.outbox
    assert f"could not email notification {row.pk}" in caplog.text
    assert Notification.objects.filter(pk=row.pk).exists()


def test_retries_end_after_the_last_one(people, flaky_mail, caplog):
    [row] = services.notify(users=[people["dana"]], kind="decision", obj=people["dana"],
                            title="Decided")
    flaky_mail.failures = [smtplib.SMTPServerDisconnected("gone")] * (tasks.EMAIL_MAX_RETRIES + 1)
    assert tasks.send_notification_email.apply(args=[row.pk]).get() is False
    assert flaky_mail.attempts == tasks.EMAIL_MAX_RETRIES + 1 and not mail.outbox
    assert "gave up after 5 retries" in caplog.text


def test_the_email_task_is_registered_under_the_name_the_services_queue():
    from config.celery import app

    app.loader.import_default_modules()
    assert tasks.send_notification_email.name == notifications.EMAIL_TASK in app.tasks


@pytest.mark.worker
def test_an_email_goes_through_rabbitmq_and_a_real_worker(
        transactional_db, people, queued_emails, tmp_path):
    """notify() in a committed transaction queues the email on RabbitMQ (a queue of this test's
    own); a real worker takes it and sends it, here into a folder of files."""
    import os
    import subprocess
    import sys
    import time
    import uuid
    from pathlib import Path

    from django.db import connection, transaction

    from config.celery import app

    queue = f"governance-email-e2e-{uuid.uuid4().hex}"  # no other worker takes from it
    default_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    queued_emails.use_broker()
    outbox = tmp_path / "outbox"
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.governance.beat_settings",
           "ASSAY_TEST_QUEUE": queue, "ASSAY_TEST_EMAIL_DIR": str(outbox),
           "ASSAY_DATA_DIR": str(tmp_path / "data"),
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "-c", "1",
         "--pool", "solo", "--without-heartbeat", "--without-gossip", "--without-mingle",
         "-l", "WARNING"], cwd=Path(__file__).resolve().parents[2], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        with transaction.atomic():
            services.notify(users=[people["dana"]], kind="decision", obj=people["dana"],
                            title="Decided end to end", url="/models/x/versions/1/workflow/")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (outbox.is_dir() and any(outbox.iterdir())):
            time.sleep(0.3)
    finally:
        app.conf.task_default_queue = default_queue
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode(errors="replace")
    [sent] = list(outbox.iterdir()) if outbox.is_dir() else [None]
    assert sent is not None, output
    text = sent.read_text()
    assert "Subject: [Assay] Decided end to end" in text and "To: dana@example.org" in text
