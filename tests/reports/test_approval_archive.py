"""The validation report archived at approval is rendered before the approval's transaction
(no lock held while the PDF is laid out), its digest is the one the attestation signs, and a
change between the rendering and the commit is caught: the approval prepares the report again,
or refuses when it keeps changing. Transactional: each service commits as it would in a server,
so what is locked while rendering is what a server would hold."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from django.db import connection

from core.errors import Conflict
from core.models import AuditEvent
from governance import attestation
from governance import services as governance
from registry.models import SignatureKind, VersionState
from reports import services
from reports.models import Report, ReportKind
from tests.reports.conftest import pdf_bytes, pdf_text

REPORT = services.TEMPLATES[ReportKind.VALIDATION_REPORT]


def _attested(version) -> dict:
    bundle = version.current_signature(SignatureKind.APPROVAL).bundle
    return json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))["predicate"]


@pytest.fixture
def last_signature_due(transactional_db, walk, draft):
    """A version pending approval that rhea's sign-off approves (boris has signed)."""
    version = walk.to_pending(draft)
    walk.sign(version, "boris")
    version.refresh_from_db()
    assert version.state == VersionState.PENDING_APPROVAL
    return version


def _advisory_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                       "AND pid = pg_backend_pid()")
        return cursor.fetchone()[0]


def test_the_report_is_rendered_before_any_lock_and_the_attestation_signs_its_digest(
        last_signature_due, walk, monkeypatch, tmp_path):
    version = last_signature_due
    real = services.render_pdf
    seen: list[tuple[bool, int, int]] = []

    def watching(template, context):
        if template == REPORT:  # (the certificate is printed after the commit)
            seen.append((connection.in_atomic_block, _advisory_locks(),
                         AuditEvent.objects.order_by("-seq").values_list("seq", flat=True)[0]))
        return real(template, context)

    monkeypatch.setattr(services, "render_pdf", watching)
    walk.sign(version, "rhea")
    version.refresh_from_db()
    assert version.state == VersionState.APPROVED
    # Rendered once, outside any transaction, holding no advisory lock (the chain's), and
    # before the approving sign-off's event was recorded.
    [(in_transaction, locks, head)] = seen
    assert not in_transaction and locks == 0
    final = AuditEvent.objects.get(action="signoff.record", actor_username="rhea")
    assert final.seq > head
    report = Report.objects.get(version=version, kind=ReportKind.VALIDATION_REPORT)
    content = pdf_bytes(report)
    assert report.frozen and hashlib.sha256(content).hexdigest() == report.sha256
    assert _attested(version)["documents"]["validation_report"]["sha256"] == report.sha256
    text = pdf_text(content, tmp_path)
    assert "archived with the approval recorded by rhea" in text
    assert f"audit trail to seq {head}" in text and "Draft" not in text


def test_a_change_between_rendering_and_commit_is_caught_and_the_report_made_again(
        last_signature_due, walk, people, monkeypatch, tmp_path):
    version = last_signature_due
    real = services.render_pdf
    renders: list[int] = []

    def interfered(template, context):
        pdf = real(template, context)
        if template == REPORT:
            renders.append(1)
            if len(renders) == 1:  # someone raises a finding while the first rendering runs
                governance.finding_raise(actor=people["victor"], version=version,
                                         severity="low", title="Late finding on stale scores",
                                         description="Scores older than 90 days.")
        return pdf

    monkeypatch.setattr(services, "render_pdf", interfered)
    walk.sign(version, "rhea")
    version.refresh_from_db()
    assert version.state == VersionState.APPROVED and len(renders) == 2
    report = Report.objects.get(version=version, kind=ReportKind.VALIDATION_REPORT)
    assert _attested(version)["documents"]["validation_report"]["sha256"] == report.sha256
    # The archived report is the second rendering: it has the finding (not a stale report).
    assert "Late finding on stale scores" in pdf_text(pdf_bytes(report), tmp_path)
    assert AuditEvent.objects.filter(action="reports.generated",
                                     payload__kind="validation_report").count() == 1


def test_a_report_that_keeps_changing_refuses_the_approval(last_signature_due, walk, people,
                                                          monkeypatch):
    version = last_signature_due
    real = services.render_pdf

    def always_interfered(template, context):
        pdf = real(template, context)
        if template == REPORT:
            governance.finding_raise(actor=people["victor"], version=version, severity="low",
                                     title="Yet another finding", description="Again.")
        return pdf

    monkeypatch.setattr(services, "render_pdf", always_interfered)
    with pytest.raises(Conflict, match="changed while it was being prepared"):
        walk.sign(version, "rhea")
    version.refresh_from_db()
    assert version.state == VersionState.PENDING_APPROVAL  # nothing of the approval committed
    assert not Report.objects.filter(version=version, frozen=True).exists()
    assert not AuditEvent.objects.filter(action="signoff.record", actor_username="rhea").exists()
    assert attestation.PREPARE_ATTEMPTS == 3
