"""The email outbox: a notification's email whose task never reached a worker (the broker was down
when the transaction committed, or lost the message) is sent again after a delay, once; an email
sent or given up is never sent again, even by a duplicate task."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from governance import services
from governance.models import Notification
from governance.services import notifications
from governance.tasks import send_notification_email

pytestmark = pytest.mark.django_db


def test_an_email_the_broker_lost_is_sent_again_once(dana, queued_emails, settings):
    settings.NOTIFICATION_EMAIL_RESEND_AFTER_S = 600
    [row] = services.notify(users=[dana], kind="decision", obj=dana, title="Decided")
    queued_emails.ids.clear()  # the broker was down: the task never reached a worker
    assert notifications.notification_emails_resend() == 0  # not before the delay
    Notification.objects.filter(pk=row.pk).update(
        email_queued_at=timezone.now() - dt.timedelta(seconds=601))
    assert notifications.notification_emails_resend() == 1 and queued_emails.ids == [row.pk]
    assert notifications.notification_emails_resend() == 0  # marked: not again at once
    assert queued_emails.run() == 1 and len(mail.outbox) == 1
    row.refresh_from_db()
    assert row.email_done_at is not None
    # A duplicate delivery of the task mails nothing more, and nothing is pending any longer.
    assert send_notification_email(row.pk) is False and len(mail.outbox) == 1
    Notification.objects.filter(pk=row.pk).update(
        email_queued_at=timezone.now() - dt.timedelta(days=1))
    assert notifications.notification_emails_resend() == 0


def test_old_and_unwanted_emails_are_not_sent_again(dana, queued_emails, settings):
    settings.NOTIFICATION_EMAIL_RESEND_AFTER_S = 0
    [old] = services.notify(users=[dana], kind="decision", obj=dana, title="Long ago")
    Notification.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(days=8))
    dana.email = ""
    dana.save(update_fields=["email"])
    services.notify(users=[dana], kind="assignment", obj=dana, title="No address")
    queued_emails.ids.clear()
    assert notifications.notification_emails_resend() == 0
