"""Validation report speed: a report of about 30 pages (many findings with their discussion,
several evaluations with their charts, a full audit appendix) rendered to PDF/A by the same
template and machinery as at approval (reports.services.report_context, reports.pdf.render_pdf).

Run:  .venv/bin/python bench/reports.py [--findings 25] [--runs 3] [--events 120]
                                        [--inventory-models 500]

Needs no database: the facts are built in memory (the objects the template reads, with the same
attributes as the rows), and the charts are drawn by core.charts from curves of the sizes a real
run stores. Prints the time of each of three renderings and ends with the line
``pdf_s=X pages=N`` (the median). Target: pdf_s <= 10.

Before it, the inventory report of ``--inventory-models`` models (default 500; rows built in
memory as ``reports.inventory.rows_of`` returns them, laid out by the same template) is rendered
three times: ``inventory_pdf_s=X pages=N models=M`` (the median; 0 models skips it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace as NS
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/assay_bench_unused")

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


def person(name: str) -> NS:
    return NS(username=name, get_full_name=lambda: name.title(), email=f"{name}@example.com")


def choice(value: str) -> Callable[[], str]:
    return lambda: value.replace("_", " ").capitalize()


def charts_of_a_run(rng: random.Random) -> list[dict]:
    from core import charts

    fpr = sorted(rng.random() for _ in range(400))
    tpr = [min(1.0, math.sqrt(x) + rng.random() * 0.02) for x in fpr]
    groups = [charts.Bar(label, 0.3 + rng.random() * 0.3, 0.25, 0.7)
              for label in ("female", "male", "<25", "25 to <60", "≥60")]
    predicted = [i / 10 + 0.05 for i in range(10)]
    return [
        {"name": "performance", "status": "passed", "reasons": [],
         "figures": {"roc_auc": 0.8134, "pr_auc": 0.7712, "accuracy": 0.7421, "n": 1000},
         "charts": [charts.roc_curve([charts.RocCurve("Model", fpr, tpr, 0.8134)]),
                    charts.pr_curve([charts.PrCurve("Model", fpr, tpr[::-1], 0.7712)],
                                    prevalence=0.3),
                    charts.confusion_matrix([[610, 90], [168, 132]], ["0", "1"])]},
        {"name": "bias", "status": "passed", "reasons": ["dp_ratio 0.826 ≥ 0.8"],
         "figures": {"dp_ratio": 0.826, "eo_difference": 0.061},
         "charts": [charts.group_bars([charts.BarSeries("Selection rate", groups)],
                                      title="Selection rate by group", y_label="Selection rate",
                                      percent=True,
                                      y_range=(0, 1))]},
        {"name": "calibration", "status": "passed", "reasons": [],
         "figures": {"ece": 0.029, "brier": 0.171},
         "charts": [charts.reliability_diagram([charts.CalibrationCurve(
             "Overall", predicted, [p + rng.uniform(-0.05, 0.05) for p in predicted],
             [100] * 10)])]},
    ]


def facts(n_findings: int, n_runs: int, n_events: int) -> Any:
    rng = random.Random(7)
    dana, victor, boris, rhea = (person(n) for n in ("dana", "victor", "boris", "rhea"))
    model = NS(name="German credit scorecard", slug="german-credit-scorecard",
               purpose="Estimates the probability that an applicant repays.",
               intended_use="Pre-screening of consumer credit applications.",
               intended_users="Credit officers.", restrictions="Not for mortgages.",
               business_line="Retail credit", data_sources="Bureau\nApplication form",
               known_limitations="Trained on 1,000 applications.", owner=dana, team="Credit",
               developers=NS(all=lambda: [dana]), favourable_class="1",
               get_task_display=choice("binary_classification"),
               get_decision_type_display=choice("credit"),
               get_sourcing_display=choice("in_house"), vendor_name="")
    version = NS(model=model, number=3, artifact_sha256="3c73f5" + "a" * 58,
                 artifact_filename="model.onnx", artifact_size=48_211, changelog="Retrained.",
                 training_data_description="German credit data, 1,000 rows.",
                 training_data_sha256="b" * 64,
                 input_schema=[{"name": "features", "element_type": "float", "shape": [None, 20]}],
                 output_schema=[{"name": "label", "element_type": "int64", "shape": [None]},
                                {"name": "probabilities", "element_type": "float",
                                 "shape": [None, 2]}],
                 get_state_display=choice("approved"))
    lorem = ("The segment is small and its outcomes were observed over a short window; the "
             "validator asks for a back-test on the next vintage before the review. ") * 2
    findings = []
    for i in range(n_findings):
        comments = [NS(get_kind_display=choice(kind), author=who, created_at=NOW,
                       body=f"{kind.capitalize()} {i}: {lorem}")
                    for kind, who in (("challenge", victor), ("response", dana),
                                      ("note", victor))]
        findings.append(NS(
            pk=100 + i, title=f"Finding {i}: segment {i % 7} under-represented",
            get_severity_display=choice(("high", "medium", "low")[i % 3]),
            get_status_display=choice("closed"), get_source_display=choice("validator"),
            owner=dana, due_date=NOW.date(), raised_at=NOW, raised_by=victor,
            description=lorem, remediation="Add the 2024 vintage.", resolution="Done.",
            resolved_by=victor, resolved_at=NOW, comments=NS(all=lambda c=comments: c),
            source_key=""))
    runs = [{"run": NS(pk=40 + i, dataset=NS(name=f"Holdout {2021 + i}", row_count=1000,
                                               sha256=f"{i}" * 64),
                       created_at=NOW, launched_by=victor, artifact_digest=version.artifact_sha256,
                       results_digest="c" * 64),
             "sections": charts_of_a_run(rng)} for i in range(n_runs)]
    events = [NS(seq=5000 + i, occurred_at=NOW, actor_username=("dana", "victor", "")[i % 3],
                 action=("version.submit", "finding.raise", "signoff.record")[i % 3],
                 object_type="registry.modelversion", object_id=str(i),
                 event_digest=f"{i:064x}") for i in range(n_events)]
    return NS(
        version=version, model=model, now=NOW, runs=runs, findings=findings,
        case=NS(tier=1, policy_version="SR 11-7 (revision 2)",
                required_roles={"review_board": 1, "risk_officer": 1}),
        governance=NS(submitted_at=NOW, submitted_by=dana, next_review_due=NOW.date()),
        review=NS(validator=victor, conceptual_soundness=lorem, implementation_verification=lorem,
                  data_quality=lorem, outcomes_analysis=lorem, limitations=lorem,
                  get_conclusion_display=choice("approve_with_conditions"), concluded_at=NOW,
                  artifact_sha256=version.artifact_sha256, conditions="Refer declines."),
        evidence=[NS(check_name=c, get_status_display=choice("passed"), recorded_at=NOW,
                     figures={"value": 0.8}, digest="d" * 64)
                  for c in ("performance", "bias", "calibration")],
        waivers=[NS(pk=i, covers_label=f"finding F-{100 + i}", granted_at=NOW,
                    approved_by=rhea, expires_at=NOW, get_status_display=choice("active"),
                    reason="Accepted for one quarter.", compensating_controls="Manual review.",
                    limits_of_use="Applicants over 25.") for i in range(5)],
        signoffs=[NS(signer=s, role=r, get_decision_display=choice("approve"), signed_at=NOW,
                     comment="Approved.", invalidated_at=None)
                  for s, r in ((boris, "review_board"), (rhea, "risk_officer"))],
        events=events, events_total=n_events, chain_head=(5000 + n_events, "e" * 64),
        checkpoint=NS(seq=5000 + n_events, signed_at=NOW, keyid="f" * 64, chain_hash="e" * 64),
    )


def inventory_rows(n: int) -> tuple[list[Any], Any]:
    from reports.inventory import InventoryRow, Totals

    rng = random.Random(16)
    teams = [NS(name=t) for t in ("Credit", "Fraud", "Pricing", "Marketing", "Retail")]
    states = ["approved", "draft", "in_validation", "pending_approval", "suspended"]
    rows, totals = [], Totals()
    for i in range(n):
        state = rng.choice(states)
        model = NS(name=f"Model {i:04d} {rng.choice(['scorecard', 'detector', 'pricer'])}",
                   slug=f"model-{i:04d}", team=rng.choice(teams),
                   business_line=rng.choice(["", "Cards", "Mortgages", "SME lending"]),
                   owner=person(f"owner{i % 40}"),
                   get_status_display=choice(state))
        in_use = (rng.randint(1, 4), "approved") if rng.random() < 0.7 else None
        row = InventoryRow(
            model=model, tier=rng.choice([1, 2, 3, None]), in_use=in_use,
            latest=(in_use[0] + rng.randint(0, 1)) if in_use else 1, latest_state=state,
            last_validation=NOW - dt.timedelta(days=rng.randint(1, 700)) if in_use else None,
            next_review=(NOW + dt.timedelta(days=rng.randint(-30, 300))).date()
            if in_use else None,
            open_findings={"high": rng.randint(0, 1), "medium": rng.randint(0, 3),
                           "low": rng.randint(0, 4)},
            overdue_findings=rng.randint(0, 2), waivers=rng.randint(0, 2),
            first_waiver_expiry=NOW + dt.timedelta(days=rng.randint(1, 90)))
        if row.overdue_findings:
            row.overdue.append(f"{row.overdue_findings} finding(s) past due")
        rows.append(row)
        totals.add(row)
    return rows, totals


def bench_inventory(n: int) -> None:
    from reports.pdf import render_pdf

    rows, totals = inventory_rows(n)
    context = {"rows": rows, "totals": totals, "dated": NOW, "params": {},
               "footer": "Assay inventory report (bench)"}
    times, pages = [], 0
    for attempt in range(3):
        pdf = render_pdf("reports/inventory.html", context)
        times.append(pdf.seconds)
        pages = pdf.pages
        print(f"inventory run {attempt + 1}: {pdf.seconds:.2f} s, {pdf.pages} pages, "
              f"{len(pdf.content) / 1024:.0f} KiB")
    print(f"inventory_pdf_s={statistics.median(times):.2f} pages={pages} models={n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=25)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=120)
    parser.add_argument("--inventory-models", type=int, default=500)
    args = parser.parse_args()

    import django

    django.setup()
    if args.inventory_models:
        bench_inventory(args.inventory_models)
    from reports.models import ReportKind
    from reports.pdf import render_pdf
    from reports.services import TEMPLATES, report_context

    context = report_context(facts(args.findings, args.runs, args.events), frozen=True)
    times, cpu, pages = [], [], 0
    for attempt in range(3):
        started = time.process_time()
        pdf = render_pdf(TEMPLATES[ReportKind.VALIDATION_REPORT], context)
        cpu.append(time.process_time() - started)
        times.append(pdf.seconds)
        pages = pdf.pages
        print(f"run {attempt + 1}: {pdf.seconds:.2f} s ({cpu[-1]:.2f} s CPU), {pdf.pages} "
              f"pages, {len(pdf.content) / 1024:.0f} KiB, sha256 {pdf.sha256[:16]}")
    print(f"pdf_s={statistics.median(times):.2f} pages={pages} "
          f"cpu_s={statistics.median(cpu):.2f}")


if __name__ == "__main__":
    main()
