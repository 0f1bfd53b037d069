"""The exports: what each kind reads, who may ask for it, and how its file is written.

Each kind reads through its page's own filter, so an export holds exactly what the page shows
for the same query string: the inventory through ``registry.filters.ModelFilter``, findings
through ``governance.filters.FindingFilter`` (as the findings page and API), waivers through
``Waiver.objects.listed()``, audit events through the trail page's ``AuditFilterForm`` and
``filtered_events``. CSV cells that a spreadsheet would run as a formula (starting with
``= + - @``, a tab or a carriage return) are written with a leading apostrophe. Files are
written row by row into a temporary file (never whole in memory) and stored with their digest
by ``reports.jobs``."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.utils import timezone

from core import permissions
from core.audit_views import AuditFilterForm, filtered_events
from core.errors import ValidationFailed
from governance.filters import FINDING_PARAMS, FindingFilter, findings_listed
from governance.models import Waiver
from registry.models import RegisteredModel
from reports import board, inventory, pack
from reports.models import ExportKind
from reports.pdf import render_pdf

Progress = Callable[[int, str], None]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
INVENTORY_PARAMS = ("q", "team", "status", "owner", "business_line", "decision_type", "tag",
                    "sort")
AUDIT_PARAMS = ("model", "actor", "action", "date_from", "date_to")
CSV_TYPE = "text/csv; charset=utf-8"
PROGRESS_EVERY = 500


def safe_cell(value: object) -> object:
    """A CSV cell that no spreadsheet runs as a formula: text starting with ``= + - @``, a tab
    or a carriage return gets a leading apostrophe (OWASP's advice); numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _when(value: dt.datetime | dt.date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def write_csv(out: IO[bytes], header: list[str], rows: Iterable[list[Any]], *, total: int,
              progress: Progress) -> int:
    """Write ``rows`` under ``header`` as UTF-8 CSV into ``out``, injection-safe, reporting
    progress every few hundred rows; returns how many rows were written."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(header)
    written = 0
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
        written += 1
        if written % PROGRESS_EVERY == 0:
            progress(5 + int(90 * written / max(total, 1)), f"{written:,} of {total:,} rows")
    text.flush()
    text.detach()
    return written


@dataclass(frozen=True)
class Output:
    """What a kind wrote: the file's name and type, how many rows, and pages for a PDF."""

    filename: str
    content_type: str
    rows: int
    pages: int | None = None


def _text_params(params: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    clean = {}
    for name in names:
        value = params.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ValidationFailed(f"{name} must be text, as in the page's query string.",
                                   field=name)
        clean[name] = value.strip()
    return clean


# --- inventory ------------------------------------------------------------------------------

def _inventory_clean(user: Any, params: Mapping[str, Any]) -> dict[str, str]:
    clean = _text_params(params, INVENTORY_PARAMS)
    inventory.models_for(user, clean)  # a bad filter: 400 naming it
    return clean


def _inventory_count(user: Any, params: dict[str, str]) -> int:
    return inventory.models_for(user, params).count()


INVENTORY_HEADER = ["model", "name", "team", "business_line", "tier", "version_in_use",
                    "version_in_use_state", "newest_version", "newest_state", "owner",
                    "last_validation", "next_review", "open_high", "open_medium", "open_low",
                    "overdue_findings", "waivers_in_force", "first_waiver_expiry", "overdue",
                    "kind"]


def _inventory_rows(user: Any, params: dict[str, str], now: dt.datetime
                    ) -> Iterable[list[Any]]:
    for batch in inventory.batches(inventory.models_for(user, params), now=now):
        for r in batch:
            m = r.model
            yield [m.slug, m.name, m.team.name, m.business_line, r.tier or "",
                   r.in_use[0] if r.in_use else "", r.in_use[1] if r.in_use else "",
                   r.latest or "", r.latest_state, m.owner.username, _when(r.last_validation),
                   _when(r.next_review), r.open_findings["high"], r.open_findings["medium"],
                   r.open_findings["low"], r.overdue_findings, r.waivers,
                   _when(r.first_waiver_expiry), "; ".join(r.overdue), m.kind]


def _inventory_csv(user: Any, params: dict[str, str], out: IO[bytes], progress: Progress,
                   now: dt.datetime) -> Output:
    total = _inventory_count(user, params)
    rows = write_csv(out, INVENTORY_HEADER, _inventory_rows(user, params, now), total=total,
                     progress=progress)
    return Output(f"inventory-{now:%Y%m%d-%H%M%S}.csv", CSV_TYPE, rows)


def _inventory_pdf(user: Any, params: dict[str, str], out: IO[bytes], progress: Progress,
                   now: dt.datetime) -> Output:
    models = inventory.models_for(user, params)
    total = models.count()
    rows: list[inventory.InventoryRow] = []
    totals = inventory.Totals()
    for batch in inventory.batches(models, now=now):
        rows.extend(batch)
        for row in batch:
            totals.add(row)
        progress(5 + int(35 * len(rows) / max(total, 1)), f"Read {len(rows):,} of {total:,} "
                                                           "models")
    progress(40, f"Laying out {total:,} models")
    pdf = render_pdf("reports/inventory.html", {
        "rows": rows, "totals": totals, "dated": now, "params": params,
        "footer": f"Assay inventory report · {now:%Y-%m-%d %H:%M} UTC"})
    out.write(pdf.content)
    return Output(f"inventory-{now:%Y%m%d-%H%M%S}.pdf", "application/pdf", len(rows),
                  pdf.pages)


# --- board report ---------------------------------------------------------------------------

def _board_clean(user: Any, params: Mapping[str, Any]) -> dict[str, str]:
    clean = _text_params(params, ("date_from", "date_to"))
    return board.period_from(clean).as_params()


def _board_pdf(user: Any, params: dict[str, str], out: IO[bytes], progress: Progress,
               now: dt.datetime) -> Output:
    period = board.period_from(params, today=max(now.date(), dt.date.fromisoformat(
        params["date_from"])))
    facts = board.build(period, now=now, progress=lambda p, s: progress(5 + p // 2, s))
    progress(60, "Laying out the report")
    pdf = render_pdf("reports/board.html", {
        "board": facts, "dated": now,
        "footer": f"Assay board report · {period.label} · generated {now:%Y-%m-%d %H:%M} UTC"})
    out.write(pdf.content)
    return Output(f"board-report-{period.start}-to-{period.end}.pdf", "application/pdf",
                  facts.models_at_end, pdf.pages)


# --- findings, waivers ----------------------------------------------------------------------

def _findings_filter(params: Mapping[str, Any]) -> FindingFilter:
    wanted = FindingFilter.from_params(params)
    wanted.raise_errors()  # a bad filter: 400 naming it
    return wanted


def _findings_clean(user: Any, params: Mapping[str, Any]) -> dict[str, str]:
    return _findings_filter(_text_params(params, FINDING_PARAMS)).as_params()


def _findings(user: Any, params: dict[str, str], today: dt.date | None = None) -> Any:
    return findings_listed(user, _findings_filter(params), today or timezone.localdate())


def _findings_csv(user: Any, params: dict[str, str], out: IO[bytes], progress: Progress,
                  now: dt.datetime) -> Output:
    today = timezone.localdate(now)
    findings = _findings(user, params, today)
    rows = ([f"F-{f.pk}", f.version.model.slug, f.version.number, f.title, f.severity,
             f.status, f.source, f.owner.username, _when(f.due_date),
             "yes" if f.is_overdue(today) else "", f.raised_by.username if f.raised_by else "",
             _when(f.raised_at), _when(f.resolved_at), f.category, f.root_cause,
             f.sr117_area, f.days_open(today)]
            for f in findings.iterator(chunk_size=2000))
    written = write_csv(out, ["finding", "model", "version", "title", "severity", "status",
                              "source", "owner", "due_date", "overdue", "raised_by",
                              "raised_at", "resolved_at", "category", "root_cause",
                              "sr117_area", "days_open"], rows, total=findings.count(),
                        progress=progress)
    return Output(f"findings-{params['status']}-{now:%Y%m%d-%H%M%S}.csv", CSV_TYPE, written)


def _waivers(user: Any, params: dict[str, str]) -> Any:
    return Waiver.objects.visible_to(user).listed()


def _waivers_csv(user: Any, params: dict[str, str], out: IO[bytes], progress: Progress,
                 now: dt.datetime) -> Output:
    waivers = _waivers(user, params)
    rows = ([w.pk, w.version.model.slug, w.version.number, w.covers_label, w.reason,
             w.compensating_controls, w.limits_of_use, w.approved_by.username,
             _when(w.granted_at), _when(w.expires_at), w.status,
             "yes" if w.is_in_force(now) else "", _when(w.ended_at), w.end_reason]
            for w in waivers.iterator(chunk_size=2000))
    written = write_csv(out, ["waiver", "model", "version", "covers", "reason",
                              "compensating_controls", "limits_of_use", "approved_by",
                              "granted_at", "expires_at", "status", "in_force", "ended_at",
                              "end_reason"], rows, total=waivers.count(), progress=progress)
    return Output(f"waivers-{now:%Y%m%d-%H%M%S}.csv", CSV_TYPE, written)


# --- audit events ---------------------------------------------------------------------------

def _audit_form(params: Mapping[str, Any]) -> dict[str, Any]:
    form = AuditFilterForm(_text_params(params, AUDIT_PARAMS))
    if not form.is_valid():
        fields = {name: [str(m) for m in msgs] for name, msgs in form.errors.items()}
        raise ValidationFailed("The audit filter is invalid: " + "; ".join(
            f"{name}: {' '.join(msgs)}" for name, msgs in fields.items()), fields=fields)
    return form.cleaned_data


def _audit_clean(user: Any, params: Mapping[str, Any]) -> dict[str, str]:
    data = _audit_form(params)
    filtered_events(data)  # an unknown model: 400 naming it
    return {k: v.isoformat() if isinstance(v, dt.date) else v
            for k, v in data.items() if v not in (None, "")}


def _events(params: dict[str, str]) -> Any:
    return filtered_events(_audit_form(params))


AUDIT_HEADER = ["seq", "occurred_at", "actor", "action", "object_type", "object_id",
                "model_id", "request_id", "payload", "event_digest", "chain_hash"]


def _audit_csv(user: Any, params: dict[str, str], out: IO[bytes], progress: Progress,
               now: dt.datetime) -> Output:
    events = _events(params).order_by("seq")
    rows = ([e.seq, _when(e.occurred_at), e.actor_username or "system", e.action,
             e.object_type, e.object_id, e.model_id if e.model_id is not None else "",
             e.request_id, json.dumps(e.payload, sort_keys=True, ensure_ascii=False),
             e.event_digest, e.chain_hash]
            for e in events.iterator(chunk_size=5000))
    written = write_csv(out, AUDIT_HEADER, rows, total=events.count(), progress=progress)
    return Output(f"audit-events-{now:%Y%m%d-%H%M%S}.csv", CSV_TYPE, written)


# --- a model's evidence pack ------------------------------------------------------------------

def _pack_clean(user: Any, params: Mapping[str, Any]) -> dict[str, str]:
    return {"model": pack.pack_model(user, _text_params(params, ("model",))).slug}


def _pack_count(user: Any, params: dict[str, str]) -> int:
    return pack.expected_files(pack.pack_model(user, params))


def _pack_on_worker(user: Any, params: dict[str, str], rows: int) -> bool:
    return pack.made_by_worker(pack.pack_model(user, params))


def _pack_zip(user: Any, params: dict[str, str], out: IO[bytes], progress: Progress,
              now: dt.datetime) -> Output:
    written = pack.evidence_pack_write(actor=user, model=pack.pack_model(user, params), out=out,
                                       progress=progress)
    return Output(written.filename, "application/zip", written.files)


# --- the kinds ------------------------------------------------------------------------------

def _everyone(user: Any) -> bool:
    return permissions.is_authenticated(user)


def shows_exports(user: Any) -> bool:
    """Whom the header's Exports link is for: auditors, risk officers, the review board and
    administrators (the page itself lists for anyone what they may export)."""
    return permissions.can_view_board(user) or permissions.can_read_audit(user)


@dataclass(frozen=True)
class Kind:
    """One export: who may ask (``may``; ``refusal`` says why not), its parameters (``clean``:
    the page's query-string values kept and checked, a 400 naming a bad one), how many rows it
    covers (``count``, against the worker threshold) and how its file is written."""

    value: str
    may: Callable[[Any], bool]
    refusal: str
    clean: Callable[[Any, Mapping[str, Any]], dict[str, str]]
    count: Callable[[Any, dict[str, str]], int]
    write: Callable[[Any, dict[str, str], IO[bytes], Progress, dt.datetime], Output]
    pdf: bool = False
    page: str = ""  # the URL name of the page whose filter it shares
    unit: str = "rows"  # what ``count`` counts
    # Whether a worker makes it, when not by its rows against the threshold (the pack: by the
    # bytes it copies and the versions whose model cards it renders).
    worker: Callable[[Any, dict[str, str], int], bool] | None = None

    @property
    def label(self) -> str:
        return ExportKind(self.value).label

    def worker_above(self) -> int:
        """Rows above which a worker makes it (settings; PDFs are slower per row)."""
        return settings.REPORTS_PDF_WORKER_ABOVE_ROWS if self.pdf else \
            settings.REPORTS_WORKER_ABOVE_ROWS

    def on_worker(self, user: Any, params: dict[str, str], rows: int) -> bool:
        """Whether a worker makes this export (else it is made in the request)."""
        if self.worker is not None:
            return self.worker(user, params, rows)
        return rows > self.worker_above()


BOARD_REFUSAL = ("Only risk officers, review board members, auditors and administrators make "
                 "board reports.")
KINDS: dict[str, Kind] = {k.value: k for k in [
    Kind(ExportKind.INVENTORY_PDF, _everyone, "", _inventory_clean, _inventory_count,
         _inventory_pdf, pdf=True, page="registry:model-list"),
    Kind(ExportKind.INVENTORY_CSV, _everyone, "", _inventory_clean, _inventory_count,
         _inventory_csv, page="registry:model-list"),
    Kind(ExportKind.BOARD_PDF, permissions.can_view_board, BOARD_REFUSAL, _board_clean,
         lambda user, params: RegisteredModel.objects.count(), _board_pdf, pdf=True,
         page="governance:board"),
    Kind(ExportKind.FINDINGS_CSV, _everyone, "", _findings_clean,
         lambda user, params: _findings(user, params).count(), _findings_csv,
         page="governance:findings"),
    Kind(ExportKind.WAIVERS_CSV, _everyone, "", lambda user, params: {},
         lambda user, params: _waivers(user, params).count(), _waivers_csv,
         page="governance:waivers"),
    Kind(ExportKind.AUDIT_CSV, permissions.can_read_audit,
         "Only auditors, risk officers and administrators read the audit trail, and so export "
         "its events.", _audit_clean, lambda user, params: _events(params).count(), _audit_csv,
         page="audit-list"),
    Kind(ExportKind.EVIDENCE_PACK, permissions.can_export_audit, pack.REFUSAL, _pack_clean,
         _pack_count, _pack_zip, page="reports:evidence-pack", unit="files",
         worker=_pack_on_worker),
]}


def kind_of(value: object) -> Kind:
    """The export kind named ``value``, or a 400 listing the kinds."""
    if not isinstance(value, str) or value not in KINDS:
        raise ValidationFailed(f"Unknown export {value!r}; the exports are "
                               f"{', '.join(KINDS)}.", field="kind")
    return KINDS[value]
