"""Notifications: an in-app inbox row per person, and an email unless they turned that kind off.

``notify`` is called from inside the services' transactions. Each notification has a unique key
(user, kind, object, period), so calling it again for the same thing creates nothing and sends
nothing: the scheduled scans rely on that to be idempotent.

Emails never go out inside the request or the service's transaction: once the transaction
commits, each one is queued for a worker (``governance.tasks.send_notification_email``), which
sends it over SMTP and retries what a mail server refused only for now. A rolled-back change mails
no one; a mail server that is slow or down delays the email, never the decision, and never loses
the inbox row.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterable
from datetime import timedelta
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from core import audit
from core.errors import ValidationFailed
from core.ids import parse_id
from core.models import User
from governance.models import Notification, NotificationKind, NotificationPreference

# The Celery task that sends a notification's email (defined in governance.tasks). Queued by name:
# the tasks module calls the services, so the services do not import it.
EMAIL_TASK = "governance.send_notification_email"


def email_wanted(user: User, kind: str) -> bool:
    pref = NotificationPreference.objects.filter(user=user, kind=kind).first()
    return pref.email if pref is not None else True


def notify(*, users: Iterable[User | None], kind: str, obj: Any, title: str, body: str = "",
           url: str = "", period: str = "") -> list[Notification]:
    """Put a notification in each user's inbox (once per key) and queue its email.

    Returns the notifications created now; those that already existed are left alone.
    """
    if kind not in NotificationKind.values:
        raise ValueError(f"unknown notification kind {kind!r}")
    object_type, object_id = obj._meta.label_lower, str(obj.pk)
    created = []
    seen: set[int] = set()
    for user in users:
        if user is None or user.pk in seen or not user.is_active:
            continue
        seen.add(user.pk)
        key = {"user": user, "kind": kind, "object_type": object_type, "object_id": object_id,
               "period": period}
        if Notification.objects.filter(**key).exists():
            continue
        try:
            with transaction.atomic():  # a savepoint: a concurrent twin loses without harm
                row = Notification.objects.create(**key, title=title[:200], body=body, url=url,
                                                  emailed=bool(user.email)
                                                  and email_wanted(user, kind))
        except IntegrityError:
            continue
        created.append(row)
        if row.emailed:
            # robust: a broker that cannot be reached is logged, not raised into a request
            # whose transaction has already committed.
            transaction.on_commit(partial(notification_email_queue, row.pk), robust=True)
    return created


def tell_new_owner(*, model: Any, owner: User, actor: User, how: str) -> None:
    """The registry's hand-over (registry.services.on_owner_given): someone made ``owner`` the
    owner of ``model``; the owner acts next, with the intake."""
    from django.urls import reverse

    notify(users=[owner], kind=NotificationKind.MODEL_OWNED, obj=model,
           title=f"You own {model.name}",
           body=(f"{actor.get_full_name() or actor.username} {how} {model.name} with you as "
                 "its owner. Complete its intake (is it a model, and its tier) so that its "
                 "versions can be validated."),
           url=reverse("governance:intake", kwargs={"slug": model.slug}),
           period=f"owner:{timezone.now():%Y%m%d%H%M%S%f}")


def notification_email_queue(notification_id: int) -> None:
    """Queue the email of a notification for a worker (after the transaction has committed)."""
    current_app.send_task(EMAIL_TASK, args=[notification_id])


def notification_email_done(notification: Notification) -> None:
    """The email went out or was given up: nothing to send again."""
    Notification.objects.filter(pk=notification.pk).update(email_done_at=timezone.now())


def notification_emails_resend() -> int:
    """The outbox: send again the email task of notifications whose email is neither sent nor
    given up ``NOTIFICATION_EMAIL_RESEND_AFTER_S`` after its task was sent (the broker was down,
    or lost it). Notifications older than a week are left alone. Returns how many were sent."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.NOTIFICATION_EMAIL_RESEND_AFTER_S)
    pending = Notification.objects.filter(emailed=True, email_done_at__isnull=True,
                                          email_queued_at__lt=cutoff,
                                          created_at__gte=now - timedelta(days=7))
    sent = 0
    for pk in pending.values_list("pk", flat=True):
        # Marked before sending, so two beats (or two passes) do not both send it.
        if pending.filter(pk=pk).update(email_queued_at=now):
            notification_email_queue(pk)
            sent += 1
    return sent


def notification_email_send(notification: Notification) -> bool:
    """Email a notification to its user now, over SMTP (the worker's task calls this).

    Returns whether an email went out: not to a user deactivated or left without an address
    since. SMTP errors propagate; the task decides whether to try again.
    """
    user = notification.user
    if not (user.is_active and user.email):
        return False
    text = notification.body
    if notification.url:
        text += f"\n\n{settings.ASSAY_BASE_URL.rstrip('/')}{notification.url}" \
            if getattr(settings, "ASSAY_BASE_URL", "") else f"\n\n{notification.url}"
    send_mail(subject=f"[Assay] {notification.title}", message=text,
              from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[user.email])
    return True


def mail_error_is_transient(exc: BaseException) -> bool:
    """Whether sending again later may succeed: the mail server unreachable, timed out or hanging
    up, or a 4xx (try again later) reply. A 5xx reply (bad address, refused sender, wrong
    credentials) fails the same way every time."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    # Other SMTP errors are protocol problems; other OSErrors are network ones (refused
    # connection, timeout, name resolution), which pass.
    return isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException)


def notification_scan_record(*, scan: str, sent: int) -> None:
    """Record in the audit trail that a scheduled scan sent notifications (nothing when none)."""
    if sent:
        audit.record(action="notification.scan", payload={"scan": scan, "sent": sent})


def notification_mark_read(*, actor: User, ids: Iterable[object] | None = None) -> int:
    """Mark the actor's notifications read (all unread ones when ``ids`` is None). The ids are
    taken as given (form or JSON values) and refused unless each is a positive whole number.

    Reading one's inbox changes no governance record, so it writes no audit event.
    """
    rows = Notification.objects.filter(user=actor, read_at__isnull=True)
    if ids is not None:
        parsed = [parse_id(i) for i in ids]
        if None in parsed:
            raise ValidationFailed("Give the notification ids as positive whole numbers.",
                                   field="ids")
        rows = rows.filter(pk__in=parsed)
    return rows.update(read_at=timezone.now())


def notification_mark_read_about(*, actor: User, obj: Any) -> int:
    """Mark read the actor's notifications about ``obj``: opening or acting on the item is
    reading what pointed at it, so the inbox badge does not stay behind."""
    return Notification.objects.filter(
        user=actor, read_at__isnull=True, object_type=obj._meta.label_lower,
        object_id=str(obj.pk)).update(read_at=timezone.now())


def notifications_settle(*, obj: Any, kinds: Iterable[str], keep: Iterable[User] = ()) -> int:
    """Mark everyone's notifications of ``kinds`` about ``obj`` read: one person acted on a call
    several received (a submission taken by a validator), so the others have nothing left to do.
    Those of the people in ``keep`` stay unread (they still have to act)."""
    return Notification.objects.filter(
        read_at__isnull=True, kind__in=list(kinds), object_type=obj._meta.label_lower,
        object_id=str(obj.pk)).exclude(user__in=[u.pk for u in keep]).update(
        read_at=timezone.now())


def preferences_of(user: User) -> dict[str, bool]:
    """Email on/off per kind, every kind listed."""
    stored = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "email"))
    return {kind: stored.get(kind, True) for kind in NotificationKind.values}


def preferences_update(*, actor: User, email: Any) -> dict[str, bool]:
    """Turn email on or off per kind for the actor (kinds not named keep their setting)."""
    if not isinstance(email, dict) or not all(isinstance(v, bool) for v in email.values()):
        raise ValidationFailed("Give email preferences as an object of kind → true/false.",
                               field="email")
    unknown = sorted(set(email) - set(NotificationKind.values))
    if unknown:
        raise ValidationFailed(f"Unknown notification kinds: {', '.join(unknown)}. Kinds are "
                               f"{', '.join(NotificationKind.values)}.", field="email")
    before = preferences_of(actor)
    with transaction.atomic():
        for kind, on in email.items():
            NotificationPreference.objects.update_or_create(user=actor, kind=kind,
                                                            defaults={"email": on})
        after = preferences_of(actor)
        changed = {k: {"before": before[k], "after": after[k]} for k in after
                   if before[k] != after[k]}
        if changed:
            audit.record(action="notification.preferences_update", actor=actor, obj=actor,
                         payload={"email": changed})
    return after
