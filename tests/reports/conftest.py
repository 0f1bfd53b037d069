"""Reports fixtures: the German-credit demo model of the evaluation tests, evaluated for real
(performance, bias, calibration: the charts come from a real run), reviewed, and approved
through the services; and helpers to read a PDF back with poppler's tools."""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from evaluation import services as evaluation
from governance import services as governance
from registry import storage
from registry.models import ModelVersion, VersionState
from reports.models import Report
from tests.evaluation.conftest import (  # noqa: F401
    demo_onnx,
    evaluation_policy,
    german_data,
    german_model,
    german_version,
    queued_runs,
    validating,
)
from tests.governance.conftest import (  # noqa: F401
    _fresh_throttle,
    draft,
    policy,
    review_fields,
    tiered_model,
    walk,
)
from tests.registry.conftest import credit_model, onnx_bytes, onnx_file  # noqa: F401


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: apt-get install -y poppler-utils"
    return path


def pdf_bytes(report: Report) -> bytes:
    with storage.open_stored(report.sha256) as handle:
        return handle.read()


def pdf_text(content: bytes, tmp_path: Path, *, first: int | None = None,
             last: int | None = None) -> str:
    """The PDF's text as pdftotext reads it, whitespace folded to single spaces."""
    path = tmp_path / "read.pdf"
    path.write_bytes(content)
    pages = [*(["-f", str(first)] if first else []), *(["-l", str(last)] if last else [])]
    text = subprocess.run([tool("pdftotext"), "-layout", *pages, str(path), "-"], check=True,
                          capture_output=True, text=True).stdout
    return " ".join(text.split())


def xmp_and_catalog(content: bytes) -> bytes:
    """The PDF's uncompressed parts and its inflated streams (XMP metadata is one of them)."""
    parts = [content]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", content, re.S):
        try:
            parts.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return b"\n".join(parts)


def pdf_pages(content: bytes, tmp_path: Path) -> int:
    path = tmp_path / "info.pdf"
    path.write_bytes(content)
    info = subprocess.run([tool("pdfinfo"), str(path)], check=True, capture_output=True,
                          text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


@pytest.fixture
def evaluated(validating, german_data, victor, queued_runs,  # noqa: F811
              django_capture_on_commit_callbacks) -> ModelVersion:
    """The German credit version in validation, with one succeeded run of every check."""
    with django_capture_on_commit_callbacks(execute=True):
        evaluation.run_launch(actor=victor, version=validating, dataset=german_data)
    assert queued_runs.run() == ["succeeded"]
    validating.refresh_from_db()
    return validating


@pytest.fixture
def approved(evaluated, walk, people) -> ModelVersion:  # noqa: F811
    """The evaluated version with a low finding victor challenged and dana answered, reviewed
    (with conditions), signed by boris and rhea: approved."""
    finding = governance.finding_raise(
        actor=people["victor"], version=evaluated, severity="low",
        title="Thin file applicants under-represented",
        description="Only 41 applicants with no credit history in the sample.")
    challenge = governance.finding_comment_add(
        actor=people["victor"], finding=finding, kind="challenge",
        body="Is the score stable for applicants with no history?")
    governance.finding_comment_add(
        actor=people["dana"], finding=finding, kind="response", reply_to=challenge,
        body="Their AUC on a 2022 holdout is 0.74; we monitor the segment monthly.")
    governance.review_conclude(actor=people["victor"], version=evaluated, **review_fields(
        evaluated, conclusion="approve_with_conditions"))
    walk.sign(evaluated, "boris")
    walk.sign(evaluated, "rhea")
    evaluated.refresh_from_db()
    assert evaluated.state == VersionState.APPROVED
    return evaluated


# --- Exports ----------------------------------------------------------------------------------
# Exports above the size threshold are queued for a worker once the request commits
# (reports.jobs.export_queue). In tests the queued ids wait here instead of going to RabbitMQ;
# ``queued_exports.run()`` runs the task on them as a worker would. One end-to-end test sends
# them through the real broker to a real worker on a queue of its own.


class QueuedExports:
    """Export ids queued for a worker, in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from reports import jobs

        self.ids: list[int] = []
        self._monkeypatch, self._jobs = monkeypatch, jobs
        self._to_broker = jobs.export_queue
        monkeypatch.setattr(jobs, "export_queue", self.ids.append)

    def run(self) -> list[str]:
        """Run the task on every queued id (emptying the queue), as a worker would."""
        from reports.tasks import generate_export

        ids, self.ids[:] = list(self.ids), []
        return [generate_export.apply(args=[pk]).get() for pk in ids]

    def use_broker(self) -> None:
        self._monkeypatch.setattr(self._jobs, "export_queue", self._to_broker)


@pytest.fixture(autouse=True)
def queued_exports(monkeypatch) -> QueuedExports:
    return QueuedExports(monkeypatch)


def export_bytes(job) -> bytes:
    with storage.open_stored(job.sha256) as handle:
        return handle.read()
