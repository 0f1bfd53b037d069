"""Notifications: the part-1 events (assignment, sign-off requested, decision) reach the right
people once, by inbox and email; preferences turn email off per kind; the inbox API and the
header badge; bad input 4xx."""

from __future__ import annotations

import pytest

from governance import services
from governance.models import Notification, NotificationPreference
from registry.models import VersionState

pytestmark = pytest.mark.django_db


def kinds_of(username: str) -> list[str]:
    return sorted(Notification.objects.filter(user__username=username)
                  .values_list("kind", flat=True))


def test_lifecycle_events_notify_the_right_people(walk, draft, mailoutbox, queued_emails,
                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        walk.submit(draft)
        walk.assign(draft)
        walk.evidence(draft)
        walk.review(draft)
        walk.sign(draft, "boris")
        walk.sign(draft, "rhea")
    assert not mailoutbox  # queued for the worker, not sent by the service
    assert queued_emails.run() == 7
    # The submission reached those who could assign or take it: victor (a validator) and rhea.
    assert kinds_of("victor") == ["assignment", "decision", "submitted"]
    assert kinds_of("boris") == ["signoff_requested"]
    assert kinds_of("rhea") == ["signoff_requested", "submitted"]  # rhea assigned; not told
    assert kinds_of("dana") == ["decision"]
    assert kinds_of("frank") == []
    victor_mail = [m.subject for m in mailoutbox if m.to == ["victor@example.org"]]
    assert victor_mail == [f"[Assay] {draft} was submitted for validation",
                           f"[Assay] You validate {draft}", f"[Assay] {draft} was approved"]
    assert len(mailoutbox) == Notification.objects.count() == 7


def test_email_preference_off_keeps_the_inbox(walk, draft, people, mailoutbox, queued_emails,
                                              django_capture_on_commit_callbacks):
    services.preferences_update(actor=people["victor"],
                                email={"assignment": False, "submitted": False})
    with django_capture_on_commit_callbacks(execute=True):
        walk.submit(draft)
        walk.assign(draft)
    queued_emails.run()
    row = Notification.objects.get(user=people["victor"], kind="assignment")
    assert row.emailed is False
    assert not [m for m in mailoutbox if "victor@example.org" in m.to]


def test_a_rolled_back_change_mails_nobody(walk, draft, people, mailoutbox, queued_emails,
                                           django_capture_on_commit_callbacks):
    walk.submit(draft)
    Notification.objects.all().delete()  # the submission's, committed
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Exception):  # noqa: B017
        from django.db import transaction

        with transaction.atomic():
            walk.assign(draft)
            raise RuntimeError("boom")
    assert not Notification.objects.exists() and not queued_emails.ids and not mailoutbox


def test_the_scheduled_scan_twice_sends_one_email_and_one_row(
        walk, draft, people, mailoutbox, queued_emails, django_capture_on_commit_callbacks):
    import datetime as dt

    from django.utils import timezone

    walk.submit(draft)
    walk.assign(draft)
    finding = services.finding_raise(actor=people["victor"], version=draft, title="Docs",
                                     description="Missing lineage.", severity="low",
                                     due_date=timezone.now().date() + dt.timedelta(days=3))
    Notification.objects.all().delete()
    queued_emails.ids.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.findings_notify_due() == 1
        assert services.findings_notify_due() == 0
    queued_emails.run()
    assert Notification.objects.filter(kind="finding_due", object_id=str(finding.pk)).count() == 1
    assert len(mailoutbox) == 1 and "is due" in mailoutbox[0].subject
    # Overdue is a new period: the owner, the raiser (the validator) hear once more.
    later = timezone.now() + dt.timedelta(days=5)
    with django_capture_on_commit_callbacks(execute=True):
        services.findings_notify_due(now=later)
        services.findings_notify_due(now=later)
    assert sorted(Notification.objects.filter(kind="finding_overdue")
                  .values_list("user__username", flat=True)) == ["dana", "victor"]


def test_inbox_api_mark_read_and_preferences(walk, draft, api, people):
    walk.submit(draft)
    walk.assign(draft)
    c = api.as_(people["victor"])
    rows = c.get("/api/v1/notifications/?unread=1").json()["results"]
    # The submission's call was settled when the validator was assigned: read for everyone.
    assert [r["kind"] for r in rows] == ["assignment"]
    marked = c.post("/api/v1/notifications/mark-read/", {"ids": [rows[0]["id"]]}).json()
    assert marked == {"marked": 1, "unread": 0}
    # someone else's notifications are not yours to mark
    assert api.as_(people["dana"]).post("/api/v1/notifications/mark-read/",
                                        {"ids": [rows[0]["id"]]}).json()["marked"] == 0
    c = api.as_(people["victor"])
    prefs = c.put("/api/v1/notifications/preferences/", {"email": {"decision": False}})
    assert prefs.status_code == 200 and prefs.json()["email"]["decision"] is False
    assert prefs.json()["email"]["assignment"] is True
    bad = c.put("/api/v1/notifications/preferences/", {"email": {"gossip": True}})
    assert bad.status_code == 400 and "gossip" in bad.json()["detail"]
    bad = c.put("/api/v1/notifications/preferences/", {"email": {"decision": "maybe"}})
    assert bad.status_code == 400
    assert c.post("/api/v1/notifications/mark-read/", {"ids": ["x"]}).status_code == 400
    assert list(NotificationPreference.objects.values_list("kind", "email")) == [
        ("decision", False)]


def test_the_header_shows_the_unread_count_and_the_inbox_marks_read(walk, draft, client,
                                                                    people):
    walk.submit(draft)
    walk.assign(draft)
    client.force_login(people["victor"])
    page = client.get("/governance/queue/").content.decode()
    assert 'id="unread-badge"' in page and ">1</span>" in page
    inbox = client.get("/governance/inbox/").content.decode()
    assert "You validate" in inbox
    row = Notification.objects.get(user=people["victor"], kind="assignment")
    fragment = client.post("/governance/inbox/read/", {"id": row.pk}, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and "<html" not in fragment.content.decode()
    html = fragment.content.decode()
    assert f'<tr id="notification-{row.pk}">' in html  # the row, now read
    assert 'id="unread-badge"' in html and 'hx-swap-oob="outerHTML" hidden>0<' in html
    row.refresh_from_db()
    assert row.read_at is not None
    assert 'id="unread-badge"' not in client.get("/governance/queue/").content.decode()
    saved = client.post("/governance/inbox/", {"decision": "on"})  # everything else off
    assert saved.status_code == 302
    assert services.preferences_of(people["victor"])["assignment"] is False


def test_a_partial_preferences_put_changes_only_the_kinds_it_names(api, people):
    """The page's form shows every kind and sends them all; the API takes a partial dict and
    leaves the kinds it does not name as they were (on or off)."""
    c = api.as_(people["victor"])
    url = "/api/v1/notifications/preferences/"
    assert c.put(url, {"email": {"decision": False, "assignment": False}}).status_code == 200
    after = c.put(url, {"email": {"decision": True, "review_due": False}}).json()["email"]
    assert (after["decision"], after["assignment"], after["review_due"]) == (True, False, False)
    assert all(on for kind, on in after.items() if kind not in ("assignment", "review_due"))
    assert c.get(url).json()["email"] == after


def test_suspending_and_reinstating_notify_the_owner_and_the_validator(
        walk, draft, people, mailoutbox, queued_emails, django_capture_on_commit_callbacks):
    walk.to_pending(draft)
    walk.sign(draft, "boris")
    walk.sign(draft, "rhea")
    with django_capture_on_commit_callbacks(execute=True):
        services.version_transition(version=draft, to=VersionState.SUSPENDED,
                                    actor=people["rhea"], reason="Drift alert on approvals.")
        services.version_transition(version=draft, to=VersionState.APPROVED,
                                    actor=people["rhea"], reason="Drift explained by seasonality.")
    queued_emails.run()
    titles = sorted(Notification.objects.filter(kind="decision").exclude(period="approved")
                    .values_list("user__username", "title"))
    assert titles == [("dana", f"{draft} was reinstated"), ("dana", f"{draft} was suspended"),
                      ("victor", f"{draft} was reinstated"), ("victor", f"{draft} was suspended")]
    suspended = Notification.objects.get(user__username="dana", title=f"{draft} was suspended")
    assert "Drift alert on approvals." in suspended.body
    assert sorted(m.to[0] for m in mailoutbox if "was suspended" in m.subject) == [
        "dana@example.org", "victor@example.org"]
