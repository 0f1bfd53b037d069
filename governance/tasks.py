"""Governance's Celery tasks: the scheduled scans (Celery beat) and notification emails. Thin: each
loads what it needs and calls the services, which are idempotent."""

from __future__ import annotations

import logging

from celery import Task, shared_task

from core.periodic import periodic_task
from governance import services
from governance.models import Notification
from governance.services import notifications

logger = logging.getLogger(__name__)

# A mail server refusing for now is asked again 1, 2, 4, 8 and 15 minutes later. Each wait stays
# below RabbitMQ's consumer_timeout (30 minutes), which a delayed task counts against.
EMAIL_MAX_RETRIES = 5
EMAIL_MAX_BACKOFF_S = 15 * 60


@periodic_task("governance.expire_waivers")
def expire_waivers() -> int:
    """Expire waivers past their date: the block returns, a finding opens, maybe a suspension."""
    return services.waivers_expire()


@periodic_task("governance.scan_due_dates")
def scan_due_dates() -> dict[str, int]:
    """Notify what is coming due or overdue: periodic reviews, findings, expiring waivers, tool
    reviews and owners' attestations (an overdue one raises a finding where its policy says
    so)."""
    return {"reviews": services.reviews_scan(), "findings": services.findings_notify_due(),
            "waivers": services.waivers_notify_expiring(), "tools": services.tools_scan(),
            "attestations": services.attestations_scan()}


@shared_task(bind=True, name=notifications.EMAIL_TASK, max_retries=EMAIL_MAX_RETRIES)
def send_notification_email(self: Task, notification_id: int) -> bool:
    """Email one notification (queued when the transaction that created it committed).

    Nothing to do when the notification is gone. A transient SMTP failure (server unreachable,
    4xx reply) is tried again with a growing wait; any other failure, or the last retry's, is
    logged and given up: the inbox row stands either way. Returns whether an email went out.
    """
    notification = Notification.objects.select_related("user").filter(
        pk=notification_id).first()
    if notification is None or notification.email_done_at is not None:
        return False  # gone, or a duplicate of a task that already sent it
    try:
        sent = notifications.notification_email_send(notification)
    except Exception as exc:
        retries = self.request.retries
        if notifications.mail_error_is_transient(exc) and retries < self.max_retries:
            raise self.retry(exc=exc, countdown=min(60 * 2 ** retries,
                                                    EMAIL_MAX_BACKOFF_S)) from exc
        logger.exception("could not email notification %s to user %s (gave up after %s "
                         "retries)", notification.pk, notification.user_id, retries)
        sent = False
    notifications.notification_email_done(notification)
    return sent


@periodic_task("governance.resend_emails")
def resend_emails() -> int:
    """The email outbox: send again what a broker outage kept from a worker."""
    return notifications.notification_emails_resend()
