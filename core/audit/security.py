"""Security events: what was refused or failed, recorded even when the request rolls back.

Failed logins, permission denials and refusals are not changes, so they do not ride on a
service's transaction: ``record_security`` commits each on its own and folds floods (see there).
``refuse()`` is the one way a service refuses a permission: it records the refusal, then raises
it, so refusals from commands and workers are in the trail too. Pages and the API record the
refusals that reach them unrecorded (``record_denial``, called by ``core.middleware`` and
``core.api.errors``); ``PermissionRefused.recorded`` keeps each refusal in the trail once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, NoReturn

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from core.audit.canonical import clean_text, plain
from core.audit.record import bounded, record
from core.errors import Refused
from core.models import AuditEvent, User
from core.models.audit import SecurityEventCounter

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

FLUSH_BATCH = 500
# The action of refusals recorded by refuse(). The name is older than refuse()'s move from
# governance to core; it is kept so existing trails and the queries over them stay valid.
REFUSED_ACTION = "governance.refused"


def _minute(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(second=0, microsecond=0)


def _minute_label(minute: dt.datetime) -> str:
    return minute.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


def record_security(
    *, action: str, principal: str, reason: str, actor: User | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Record a security event that is not a change (failed login, permission denial).

    It is committed on its own, so the denial stays recorded when the request that caused it rolls
    back. A flood is folded per (action, principal, reason, UTC minute): the minute's first
    occurrence becomes a chain event at once (``count`` 1); later ones only increment a counter
    row; when the minute is over the rest is written as one event with ``"folded": true`` and
    their ``count`` (at the next security event, or by the ``flush_security_counts`` beat task).
    So a key costs the chain at most two events a minute, and the counts of its events add up to
    the number of occurrences.

    Called while a transaction is open on the default connection (a view inside ``atomic``, or a
    test wrapped in one), the occurrence is counted through a second, short-lived connection that
    commits at once; it reaches the chain at the next flush. A second connection must not append
    to the chain itself: the open transaction may hold the chain lock, and it would wait forever.
    """
    now = timezone.now()
    key = {"action": action[:64], "principal": clean_text(principal or "anonymous")[:150],
           "reason": clean_text(reason)[:64], "minute": _minute(now)}
    details = bounded(plain(payload or {}))
    who = {"actor_id": getattr(actor, "pk", None),
           "actor_username": clean_text(getattr(actor, "username", "") or "")[:150]}
    if connection.in_atomic_block:
        _count_outside_transaction(key, who, details)
        return
    with transaction.atomic():
        flush_security_counts(now=now)
        counter, created = SecurityEventCounter.objects.get_or_create(
            **key, defaults={"count": 1, "recorded": 1, "payload": details, **who})
        if created:
            _record_security_event(counter, count=1, details=details, folded=False)
        else:
            SecurityEventCounter.objects.filter(pk=counter.pk).update(
                count=F("count") + 1, payload=details)


def _record_security_event(counter: SecurityEventCounter, *, count: int,
                           details: dict[str, Any], folded: bool) -> AuditEvent:
    actor = SimpleNamespace(pk=counter.actor_id, username=counter.actor_username)
    body = {**details, "principal": counter.principal, "reason": counter.reason, "count": count,
            "minute": _minute_label(counter.minute)}
    if folded:
        body["folded"] = True
    model_id = details.get("model_id") if isinstance(details.get("model_id"), int) else None
    # A stand-in with the id and name the event records (all record() reads of an actor).
    return record(action=counter.action,
                  actor=actor if counter.actor_id else None,  # type: ignore[arg-type]
                  object_type="principal", object_id=counter.principal[:64], payload=body,
                  model_id=model_id,
                  # A folded event sums up other requests; the flushing one's id would mislead.
                  request_id="" if folded else None)


def _count_outside_transaction(key: dict[str, Any], who: dict[str, Any],
                               details: dict[str, Any]) -> None:
    """Count one occurrence through a connection of its own (it commits whatever the caller does)."""
    if connection.vendor != "postgresql":
        # SQLite has a single writer: a second connection would wait for the open transaction.
        # Embedded mode counts in the caller's transaction (documented in docs/audit.md).
        _increment(key, who, details)
        return
    table = SecurityEventCounter._meta.db_table
    own = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with own.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")
            cursor.execute(
                f"INSERT INTO {table} (action, principal, reason, minute, count, recorded, "  # noqa: S608
                "actor_id, actor_username, payload) VALUES (%s, %s, %s, %s, 1, 0, %s, %s, %s) "
                "ON CONFLICT (action, principal, reason, minute) DO UPDATE "
                f"SET count = {table}.count + 1, payload = EXCLUDED.payload",
                [key["action"], key["principal"], key["reason"], key["minute"], who["actor_id"],
                 who["actor_username"], json.dumps(details, ensure_ascii=False)],
            )
    except DatabaseError:
        # E.g. the open transaction holds this counter row (it flushed it): count it there.
        logger.warning("security event counted in the caller's transaction", exc_info=True)
        _increment(key, who, details)
    finally:
        own.close()


def _increment(key: dict[str, Any], who: dict[str, Any], details: dict[str, Any]) -> None:
    with transaction.atomic():
        counter, created = SecurityEventCounter.objects.get_or_create(
            **key, defaults={"count": 1, "recorded": 0, "payload": details, **who})
        if not created:
            SecurityEventCounter.objects.filter(pk=counter.pk).update(
                count=F("count") + 1, payload=details)


def flush_security_counts(*, now: dt.datetime | None = None,
                          batch: int | None = FLUSH_BATCH) -> int:
    """Write one folded event for every counter whose minute is over; returns events written.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED``, so two flushers never write the same count.
    Inside requests a call handles at most ``batch`` counters; the beat task passes None (all).
    """
    current = _minute(now or timezone.now())
    written = 0
    with transaction.atomic():
        due = list(
            SecurityEventCounter.objects.select_for_update(skip_locked=True)
            .filter(minute__lt=current).order_by("minute", "pk")[:batch]
        )
        for counter in due:
            pending = counter.count - counter.recorded
            if pending > 0:
                _record_security_event(counter, count=pending, details=counter.payload,
                                       folded=True)
                written += 1
        if due:
            SecurityEventCounter.objects.filter(pk__in=[c.pk for c in due]).delete()
    return written


def refuse(actor: User | None, reason: str, *, attempted: str, target: Any = None, code: str = "",
           error: type[Refused] = Refused, principal: str = "") -> NoReturn:
    """Record the refusal as a security event (committed on its own) and raise it as a 403.

    ``actor`` is the user refused, or None for the system; ``attempted`` names the action
    (``"version_transition"``); ``target`` the object, whose ``audit_model_id`` files the event
    under its model. ``code`` names the kind of refusal (``permissions.WRONG_ROLE``...; a
    ``permissions.Refusal`` carries its own): the audit trail folds a flood of refusals per code,
    so it keeps one count per kind rather than one message for all. ``principal`` names who was
    refused when it is no user (an application key: ``"app:<prefix>"``).
    """
    code = code or getattr(reason, "code", "") or "permission_denied"
    record_security(
        action=REFUSED_ACTION, reason=code, actor=actor,
        principal=principal or getattr(actor, "username", "") or "system",
        payload={"attempted": attempted, "message": str(reason), "code": code,
                 "object": str(target) if target is not None else "",
                 "model_id": getattr(target, "audit_model_id", None)})
    raise error(str(reason))


def record_denial(request: HttpRequest | None, message: str) -> None:
    """Record a refusal that reached a page or the API unrecorded (a DRF permission class, a
    ``PermissionRefused`` raised without ``refuse()``), with the request's path and method."""
    record_request_event(request, action="security.permission_denied",
                         reason="permission_denied", payload={"message": message})


def record_request_event(request: HttpRequest | None, *, action: str, reason: str,
                         payload: dict[str, Any]) -> None:
    """A security event about a request (who, path, method, and ``payload``)."""
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    # signed_in implies a user, which mypy cannot follow through the variable.
    principal = user.username if signed_in else "anonymous"  # type: ignore[union-attr]
    record_security(action=action, principal=principal, reason=reason,
                    actor=user if signed_in else None,
                    payload={"path": getattr(request, "path", "")[:200],
                             "method": getattr(request, "method", ""), **payload})
