"""End to end in a real browser: marking a notification read updates the row and the badge."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from governance.models import Notification, NotificationKind

pytestmark = pytest.mark.browser


def test_mark_one_notification_read(page, site, login, dana):
    first, second = (Notification.objects.create(
        user=dana, kind=NotificationKind.DECISION, object_type="test", object_id=str(i),
        title=f"Decision {i}") for i in (1, 2))
    login(dana)
    page.goto(f"{site}/governance/inbox/")
    badge = page.locator("#unread-badge")
    expect(badge).to_have_text("2")
    page.locator(f"#notification-{first.pk}").get_by_role("button", name="Mark read").click()
    expect(page.locator(f"#notification-{first.pk}")).to_contain_text("read")
    expect(badge).to_have_text("1")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None and second.read_at is None


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["\u00b2", "abc", "-1", "99999999999999999999"])
def test_a_bad_notification_id_is_a_400_and_marks_nothing(client, dana, raw):
    Notification.objects.create(user=dana, kind=NotificationKind.DECISION, object_type="t",
                                object_id="1", title="Decision")
    client.force_login(dana)
    response = client.post("/governance/inbox/read/", {"id": raw})
    assert response.status_code == 400
    assert Notification.objects.filter(read_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_another_users_notification_is_not_found(client, dana, frank):
    theirs = Notification.objects.create(user=frank, kind=NotificationKind.DECISION,
                                         object_type="t", object_id="1", title="Decision")
    client.force_login(dana)
    response = client.post("/governance/inbox/read/", {"id": theirs.pk},
                           headers={"HX-Request": "true"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
