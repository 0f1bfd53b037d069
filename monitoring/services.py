"""Every write of ongoing monitoring (docs/monitoring.md): the plan set at approval and changed by
the owner with the validator's agreement; the scheduled check (a window of the prediction log
counted once, the period's statistics, the thresholds, and what a breach does); outcomes and
overrides posted by applications."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from typing import Any

import numpy as np
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core import audit, permissions
from core.audit import refuse
from core.errors import Conflict, ValidationFailed
from core.models import User
from evaluation.metrics import drift as drift_metrics
from evaluation.models import Run, RunStatus
from evaluation.tables import frame_from_bytes
from governance import services as governance
from governance.gates import case_for, latest_evidence
from governance.models import NotificationKind, Severity, workflow_url
from governance.policy import default_monitoring, monitoring_errors, monitoring_rules
from monitoring import outcomes, stats
from monitoring.models import (
    ChangeStatus,
    MonitoringCheck,
    MonitoringPlan,
    MonitoringWindow,
    Outcome,
    Override,
    PlanChange,
    PlanStatus,
)
from registry import storage
from registry.models import ModelVersion, VersionState
from serving.gateway.predlog import purge as purge_prediction_log
from serving.models import AppKey, Endpoint, EndpointChange, PredictionLog, PredictionRole

logger = logging.getLogger("assay.monitoring")

CHECK_TASK = "monitoring.check"
# Versions whose predictions are monitored: approved ones, and suspended ones (their log and
# outcomes still come in, and a reinstatement must see the statistics).
MONITORED = (VersionState.APPROVED, VersionState.SUSPENDED)
READ_CHUNK = 5000
MAX_BATCH = 1000


def _rules_digest(rules: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(rules, sort_keys=True, separators=(",", ":"))
                          .encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# The plan.

def plan_set_at_approval(*, version: ModelVersion, actor: User | None,
                         now: dt.datetime) -> dict[str, Any] | None:
    """The version's monitoring plan from its tier's monitoring policy, made at its approval
    (governance calls this inside the approval's transaction, through
    ``add_approval_document``). A reinstatement or re-signing keeps the plan as it is. What the
    attestation says of it: the SHA-256 of its rules (floats stay out of signed statements).
    None for a model with no ONNX form: the gateway never serves it, so there is no traffic
    for a plan to watch (docs/no-artifact-models.md)."""
    if not version.model.has_onnx_form:
        return None
    plan = MonitoringPlan.objects.filter(version=version).first()
    if plan is None:
        case = case_for(version)
        rules = case.rules.monitoring.as_dict() if case.rules and case.rules.monitoring \
            else monitoring_rules(default_monitoring(case.tier or 3)).as_dict()
        plan = MonitoringPlan.objects.create(
            version=version, rules=rules, tier=case.tier, created_at=now,
            policy_version_id_at_approval=case.policy_version.pk if case.policy_version
            else None, next_check_at=now + dt.timedelta(minutes=rules["frequency_minutes"]))
        audit.record(action="monitoring.plan_set", actor=actor, obj=plan, payload={
            "version": version.number, "tier": case.tier, "rules": rules,
            "policy_version": str(case.policy_version) if case.policy_version else None})
    return {"sha256": _rules_digest(plan.rules), "plan_id": plan.pk}


def _validated_rules(rules: Any) -> dict[str, Any]:
    errors = monitoring_errors(rules)
    if errors:
        raise ValidationFailed("The monitoring rules are not valid: "
                               + " ".join(f"rules{e}" for e in errors), field="rules")
    return monitoring_rules(rules).as_dict()


def plan_change_propose(*, actor: User, plan: MonitoringPlan, rules: Any,
                        reason: str) -> PlanChange:
    """The model's owner proposes new rules for the plan; the version's validator is asked to
    agree. One proposal at a time."""
    case = case_for(plan.version)
    refusal = permissions.reason_cannot_propose_monitoring_change(actor, case)
    if refusal:
        refuse(actor, refusal, attempted="monitoring.change_propose", target=plan.version)
    if not (reason or "").strip():
        raise ValidationFailed("Say why the plan should change.", field="reason")
    clean = _validated_rules(rules)
    if case.validator_id is None:
        raise Conflict(f"{plan.version} has no validator to agree to the change.")
    with transaction.atomic():
        locked = MonitoringPlan.objects.select_for_update().get(pk=plan.pk)
        if locked.changes.filter(status=ChangeStatus.PROPOSED).exists():
            raise Conflict("A change of this plan already awaits the validator: it is agreed "
                           "or declined first.")
        change = PlanChange.objects.create(plan=locked, rules=clean, reason=reason.strip(),
                                           proposed_by=actor)
        audit.record(action="monitoring.change_propose", actor=actor, obj=change, payload={
            "version": plan.version.number, "plan": locked.pk, "rules": clean,
            "previous": locked.rules, "reason": change.reason})
        validator = User.objects.get(pk=case.validator_id)
        governance.notify(users=[validator], kind=NotificationKind.MONITORING_PLAN, obj=change,
                          title=f"Agree to a change of the monitoring plan of {plan.version}?",
                          body=change.reason, url=plan_url(locked))
    return change


def plan_change_decide(*, actor: User, change: PlanChange, agree: bool,
                       note: str = "") -> PlanChange:
    """The version's validator agrees (the rules apply at once) or declines; the owner is
    told."""
    plan = change.plan
    case = case_for(plan.version)
    refusal = permissions.reason_cannot_decide_monitoring_change(actor, case)
    if refusal:
        refuse(actor, refusal, attempted="monitoring.change_decide", target=plan.version)
    if not agree and not (note or "").strip():
        raise ValidationFailed("Say why you decline the change.", field="note")
    with transaction.atomic():
        locked = PlanChange.objects.select_for_update().select_related("plan").get(pk=change.pk)
        if locked.status != ChangeStatus.PROPOSED:
            raise Conflict(f"This change was already {locked.get_status_display().lower()}.")
        now = timezone.now()
        locked.status = ChangeStatus.AGREED if agree else ChangeStatus.DECLINED
        locked.decided_by, locked.decided_at, locked.note = actor, now, (note or "").strip()
        locked.save(update_fields=["status", "decided_by", "decided_at", "note"])
        previous = locked.plan.rules
        if agree:
            locked.plan.rules = locked.rules
            locked.plan.next_check_at = min(
                locked.plan.next_check_at,
                now + dt.timedelta(minutes=locked.rules["frequency_minutes"]))
            locked.plan.save(update_fields=["rules", "next_check_at"])
        audit.record(action="monitoring.change_agree" if agree else "monitoring.change_decline",
                     actor=actor, obj=locked, payload={
                         "version": plan.version.number, "plan": plan.pk,
                         "rules": locked.rules, "previous": previous, "note": locked.note})
        governance.notify(users=[locked.proposed_by], kind=NotificationKind.MONITORING_PLAN,
                          obj=locked, period=locked.status,
                          title=f"Monitoring plan change of {plan.version} "
                                f"{locked.get_status_display().lower()}",
                          body=locked.note, url=plan_url(locked.plan))
    return locked


def plan_url(plan: MonitoringPlan) -> str:
    from django.urls import reverse
    return reverse("monitoring:plan", kwargs={"pk": plan.pk})


# ---------------------------------------------------------------------------------------------
# The validated reference.

def validated_run(version: ModelVersion) -> Run | None:
    """The version's latest succeeded evaluation run on its exact artifact: its data is the
    validated reference."""
    return (Run.objects.filter(version=version, status=RunStatus.SUCCEEDED,
                               artifact_digest=version.artifact_sha256)
            .select_related("dataset", "reference").order_by("-finished_at", "-pk").first())


def _score_output(version: ModelVersion) -> tuple[str | None, int]:
    """Which output is the score (docs/monitoring.md): ``probabilities`` (column 1, the
    favourable class of a binary classifier), else ``variable``, else the first output."""
    names = [o.get("name") for o in version.output_schema or [] if isinstance(o, dict)]
    if "probabilities" in names:
        return "probabilities", 1
    if "variable" in names:
        return "variable", 0
    return (names[0], 0) if names else (None, 0)


def reference_build(version: ModelVersion) -> tuple[stats.Reference | None, str]:
    """The plan's reference from the validated data (the run's reference data set, else its
    evaluation data), with the version's scores on it; or None and why not."""
    from evaluation.metrics.scoring import inference_session, onnx_predict

    run = validated_run(version)
    if run is None:
        return None, ("No succeeded evaluation run of this artifact: drift needs the validated "
                      "reference data. Data quality, outcomes and overrides are monitored.")
    dataset = run.reference or run.dataset
    with storage.open_verified(dataset.sha256) as handle:
        frame = frame_from_bytes(handle.read(), dataset.file_format)
    specs = [s for s in version.input_schema or [] if isinstance(s, dict)]
    schema = {s["name"]: s.get("element_type", "") for s in specs}
    output, column = _score_output(version)
    scores = None
    if output is not None:
        try:
            with storage.open_verified(version.artifact_sha256) as handle:
                session = inference_session(handle.read())
            scores = onnx_predict(session, specs, output=output, column=column)(
                frame[list(schema)])
        except (ValueError, KeyError, IndexError) as exc:
            logger.warning("monitoring: no reference scores for %s: %s", version, exc)
            scores = None
    evidence = latest_evidence(version).get("performance")
    validated = {k: float(v) for k, v in (evidence.figures if evidence else {}).items()
                 if k in ("roc_auc", "accuracy", "f1", "rmse", "mae")
                 and isinstance(v, int | float)}
    try:
        reference = stats.build_reference(frame, schema, scores=scores, score_output=output,
                                          score_column=column, validated=validated)
    except ValueError as exc:
        return None, f"The validated data cannot be the reference: {exc}"
    return reference, ""


# ---------------------------------------------------------------------------------------------
# The scheduled check.

def monitoring_scan(*, now: dt.datetime | None = None) -> int:
    """Beat's scan: queue the check of every plan that is due (claimed by moving its next check
    on, so a scan running twice queues each once), and enforce the prediction log's retention.
    Returns how many checks were queued."""
    now = now or timezone.now()
    queued = 0
    due = MonitoringPlan.objects.due(now).filter(version__state__in=MONITORED)
    for plan in due.only("pk", "rules", "next_check_at"):
        step = dt.timedelta(minutes=float(plan.rules.get("frequency_minutes", 60)))
        claimed = MonitoringPlan.objects.filter(pk=plan.pk, next_check_at=plan.next_check_at) \
            .update(next_check_at=now + step)
        if claimed:
            queued += 1
            transaction.on_commit(partial(check_queue, plan.pk), robust=True)
    purge_prediction_log(now=now)
    return queued


def check_queue(plan_id: int) -> None:
    current_app.send_task(CHECK_TASK, args=[plan_id])


def _log_entries(version: ModelVersion, start: dt.datetime | None, end: dt.datetime
                 ) -> Iterator[tuple[Any, Any]]:
    rows = PredictionLog.objects.filter(version=version, created_at__lte=end).exclude(
        role=PredictionRole.SHADOW)
    if start is not None:
        rows = rows.filter(created_at__gt=start)
    yield from rows.order_by().values_list("inputs", "outputs").iterator(chunk_size=READ_CHUNK)


def window_collect(plan: MonitoringPlan, *, now: dt.datetime,
                   reference: stats.Reference | None) -> MonitoringWindow:
    """Count the prediction log rows since the last window into a new window (once: the next
    window starts where this one ends). Rows younger than ``MONITORING_LOG_LAG_S`` wait for the
    next window, since the gateway's writer may still be inserting rows stamped earlier."""
    end = now - dt.timedelta(seconds=settings.MONITORING_LOG_LAG_S)
    start = plan.last_log_at
    entries = _log_entries(plan.version, start, end)
    if reference is None:
        reference = _schema_only_reference(plan.version)
    tally = stats.tally(entries, reference)
    sums = outcome_sums(plan, start, end)
    window = MonitoringWindow.objects.create(
        plan=plan, start=start or plan.created_at, end=end, requests=tally.requests,
        rows=tally.rows, quality=tally.quality,
        outcomes=sums.as_dict() if sums.received else None,
        counts=drift_metrics.counts_as_dict(tally.counts) if tally.counts else None)
    MonitoringPlan.objects.filter(pk=plan.pk).update(last_log_at=end)
    plan.last_log_at = end
    return window


def _schema_only_reference(version: ModelVersion) -> stats.Reference:
    """Without validated data: the schema alone (quality counters, no drift, no ranges)."""
    schema = {s["name"]: s.get("element_type", "") for s in version.input_schema or []
              if isinstance(s, dict)}
    bins = drift_metrics.Binning(numeric={}, categorical={})
    return stats.Reference(columns=tuple(schema), schema=schema, bins=bins,
                           counts=drift_metrics.Counts(rows=0, columns={}), ranges={},
                           categories={})


def _period_windows(windows: Iterable[MonitoringWindow]) -> list[stats.Window]:
    return [stats.Window(start_s=w.start.timestamp(), end_s=w.end.timestamp(), rows=w.rows,
                         counts=drift_metrics.counts_from_dict(w.counts) if w.counts else None,
                         quality=w.quality) for w in windows]


def _joined_predictions(version: ModelVersion, keys: Sequence[tuple[str, str, int]]
                        ) -> dict[tuple[str, str, int], Any]:
    """The logged output record of each (endpoint, request id, row), for this version."""
    found: dict[tuple[str, str, int], Any] = {}
    wanted = {(slug, rid) for slug, rid, _ in keys}
    ids = sorted({rid for _, rid in wanted})
    for start in range(0, len(ids), READ_CHUNK):
        for slug, rid, outputs in PredictionLog.objects.filter(
                version=version, request_id__in=ids[start:start + READ_CHUNK]).exclude(
                role=PredictionRole.SHADOW).values_list("endpoint_slug", "request_id",
                                                        "outputs"):
            if (slug, rid) in wanted and isinstance(outputs, list):
                for row, output in enumerate(outputs):
                    found[(slug, rid, row)] = output
    return found


def endpoints_of(version: ModelVersion) -> list[str]:
    """The endpoints the version serves or has served as primary or canary (from the
    endpoints' history, never by scanning the prediction log)."""
    changes = EndpointChange.objects.filter(
        Q(primary_version=version) | Q(canary_version=version)).values_list(
        "endpoint__slug", flat=True)
    now = Endpoint.objects.filter(Q(primary_version=version) | Q(canary_version=version)) \
        .values_list("slug", flat=True)
    return sorted({*changes, *now})


def outcome_sums(plan: MonitoringPlan, start: dt.datetime | None, end: dt.datetime
                 ) -> outcomes.OutcomeSums:
    """The outcomes recorded in (start, end] on the version's endpoints, joined to its logged
    predictions, counted into mergeable sums (monitoring.outcomes)."""
    version = plan.version
    model = version.model
    reference = stats.Reference.from_dict(plan.reference) if plan.reference else None
    score_output, score_column = ((reference.score_output, reference.score_column)
                                  if reference else _score_output(version))
    rows = Outcome.objects.filter(endpoint_slug__in=endpoints_of(version), recorded_at__lte=end)
    if start is not None:
        rows = rows.filter(recorded_at__gt=start)
    received = 0
    joined_rows: list[outcomes.Joined] = []
    for start_at in range(0, 10**9, READ_CHUNK):
        chunk = list(rows.order_by("pk").values_list(
            "endpoint_slug", "request_id", "row", "outcome", "sensitive")[
            start_at:start_at + READ_CHUNK])
        if not chunk:
            break
        received += len(chunk)
        joined = _joined_predictions(version, [(s, r, i) for s, r, i, _, _ in chunk])
        for slug, rid, row, outcome, sensitive in chunk:
            output = joined.get((slug, rid, row))
            if output is None:
                continue
            joined_rows.append(outcomes.Joined(
                outcome=outcome, score=stats.score_of(output, score_output, score_column),
                label=_predicted_label(output), sensitive=sensitive or {}))
    sums = outcomes.tally(model.task, joined_rows, favourable=model.favourable_class or "1",
                          threshold=model.decision_threshold)
    sums.received = received
    return sums


def _predicted_label(output: Any) -> str | None:
    """A classifier's predicted label in a logged output record: its ``label`` output, else the
    index of the largest of its ``probabilities``."""
    if not isinstance(output, dict):
        return None
    label = output.get("label")
    if isinstance(label, list):
        label = label[0] if label else None
    if isinstance(label, str | int | float | bool):
        return str(label)
    probabilities = output.get("probabilities")
    if isinstance(probabilities, list) and probabilities and isinstance(probabilities[0], list):
        probabilities = probabilities[0]
    if isinstance(probabilities, list) and probabilities and all(
            isinstance(p, int | float) and not isinstance(p, bool) for p in probabilities):
        return str(int(np.argmax(probabilities)))
    return None


def live_outcomes(plan: MonitoringPlan, reference: stats.Reference | None,
                  windows: Sequence[MonitoringWindow]
                  ) -> tuple[dict[str, float | None], dict[str, Any]]:
    """Performance back-tested against the validated figures, and fairness across the
    sensitive attributes supplied, from the period's windows' outcome sums."""
    parts = [outcomes.OutcomeSums.from_dict(w.outcomes) for w in windows if w.outcomes]
    sums = outcomes.merged([p for p in parts if p.task == plan.version.model.task])
    task = plan.version.model.task
    statistics: dict[str, float | None] = {"performance_drop": None}
    statistics.update(dict.fromkeys(outcomes.FAIRNESS[outcomes.Task(task)]))
    details: dict[str, Any] = {
        "performance": {"outcomes": sum(p.received for p in parts),
                        "joined": sums.n if sums else 0},
        "fairness": {}}
    if sums is None:
        return statistics, details
    live = outcomes.live_figures(sums)
    validated = dict(reference.validated) if reference else {}
    drop, metric = outcomes.performance_drop(task, live, validated)
    statistics["performance_drop"] = drop
    details["performance"].update({"live": live, "validated": validated, "metric": metric})
    fair, details["fairness"] = outcomes.fairness(sums)
    statistics.update(fair)
    return statistics, details


def fairness_limits(plan: MonitoringPlan) -> dict[str, dict[str, float | None]]:
    """The fairness thresholds of the version's tier policy (its bias evidence: ``dp_ratio``
    at least x is a ``dp_ratio_shortfall`` of at most 1 - x; ``eo_difference`` at most y),
    used where the plan names no threshold of its own for the statistic."""
    rules = case_for(plan.version).rules
    limits: dict[str, dict[str, float | None]] = {}
    for item in rules.required_evidence if rules else ():
        if item.check != "bias" or item.threshold is None \
                or not item.applies_to(plan.version.model.task):
            continue
        if item.metric == "dp_ratio" and item.comparator in (">=", ">"):
            limits["dp_ratio_shortfall"] = {"limit": 1.0 - item.threshold, "severe": None}
        elif item.metric in ("eo_difference", "mae_difference") \
                and item.comparator in ("<=", "<"):
            limits[item.metric] = {"limit": item.threshold, "severe": None}
    return limits


def override_rate(plan: MonitoringPlan, since: dt.datetime, rows: int
                  ) -> tuple[float | None, dict[str, int]]:
    """Overrides recorded in the period on this version's endpoints, per predictions logged
    in it, and the count per reason."""
    slugs = endpoints_of(plan.version)
    per_reason: dict[str, int] = {}
    for reason in Override.objects.filter(endpoint_slug__in=slugs, recorded_at__gt=since) \
            .values_list("reason", flat=True):
        per_reason[reason] = per_reason.get(reason, 0) + 1
    total = sum(per_reason.values())
    return (total / rows if rows else None), per_reason


def plan_check(*, plan_id: int, now: dt.datetime | None = None) -> MonitoringCheck | None:
    """One scheduled check of a plan (the task's body): count the new window, compute the
    period's statistics, record the check, and act on breaches (``_act_on_breaches``)."""
    now = now or timezone.now()
    plan = MonitoringPlan.objects.select_related("version__model").filter(pk=plan_id).first()
    if plan is None or plan.version.state not in MONITORED:
        return None
    if plan.reference is None and not plan.reference_note:
        reference, note = reference_build(plan.version)
        plan.reference = reference.as_dict() if reference else None
        plan.reference_note = note
        plan.save(update_fields=["reference", "reference_note"])
    reference = stats.Reference.from_dict(plan.reference) if plan.reference else None
    with transaction.atomic():
        plan = MonitoringPlan.objects.select_for_update().select_related("version__model").get(
            pk=plan_id)
        window_collect(plan, now=now, reference=reference)
        since = now - dt.timedelta(hours=int(plan.rules["window_hours"]))
        windows_rows = list(plan.windows.filter(end__gt=since).order_by("end", "pk"))
        windows = _period_windows(windows_rows)
        statistics, details = stats.period_statistics(reference, windows)
        rows = sum(w.rows for w in windows)
        live, live_details = live_outcomes(plan, reference, windows_rows)
        statistics.update(live)
        details.update(live_details)
        statistics["override_rate"], details["override_reasons"] = override_rate(
            plan, since, rows)
        found = stats.breaches(statistics, {**fairness_limits(plan),
                                            **plan.rules["thresholds"]})
        status = PlanStatus.NO_DATA if rows == 0 else PlanStatus.SEVERE if any(
            b.severe for b in found) else PlanStatus.BREACH if found else PlanStatus.OK
        check = MonitoringCheck.objects.create(
            plan=plan, at=now, period_start=since, rows=rows, statistics=statistics,
            details=details, breaches=[b.as_dict() for b in found], status=status)
        if status != plan.status:
            audit.record(action="monitoring.status", actor=None, obj=plan, payload={
                "version": plan.version.number, "from": plan.status, "to": status,
                "check": check.pk, "statistics": statistics,
                "breaches": check.breaches})
            MonitoringPlan.objects.filter(pk=plan.pk).update(status=status)
            plan.status = status
        if found:
            _act_on_breaches(plan, check, found, now)
    return check


def _alerted(plan: MonitoringPlan) -> list[User | None]:
    version = plan.version
    case = case_for(version)
    people: list[User | None] = []
    alert = plan.rules.get("alert", ["owner", "validator"])
    if "owner" in alert:
        people.append(version.model.owner)
    if "validator" in alert and case.validator_id:
        people.append(User.objects.filter(pk=case.validator_id).first())
    if "developers" in alert:
        people += list(version.model.developers.all())
    return people


def _act_on_breaches(plan: MonitoringPlan, check: MonitoringCheck,
                     found: Sequence[stats.Breach], now: dt.datetime) -> None:
    """A breach opens a finding (one per statistic while it is not closed; a new one once it is)
    and alerts the plan's people; a severe breach, or breaches in ``sustained_checks`` checks in
    a row, make the version "revalidation required" and, where the plan says ``suspend``,
    suspend it (the gateway then refuses it within its 2-second bound)."""
    version = plan.version
    for breach in found:
        finding, created = governance.finding_raise_from_monitoring(
            version=version, statistic=breach.statistic,
            severity=Severity.HIGH if breach.severe else Severity.MEDIUM,
            title=f"Monitoring: {breach.statistic} = {breach.value:.4g} above "
                  f"{breach.limit:g}" + (" (severe)" if breach.severe else ""),
            description=(f"The monitoring check of {now:%Y-%m-%d %H:%M} UTC found "
                         f"{breach.statistic} = {breach.value:.4g} over the "
                         f"{plan.rules['window_hours']} hours before it ({check.rows} "
                         f"predictions), above the plan's limit of {breach.limit:g}."),
            figures={"statistic": breach.statistic, "value": breach.value,
                     "limit": breach.limit, "severe": breach.severe, "check": check.pk},
            now=now)
        if created:
            governance.notify(users=_alerted(plan), kind=NotificationKind.MONITORING_ALERT,
                              obj=finding, title=f"Monitoring breach on {version}: "
                              f"{breach.statistic} = {breach.value:.4g}",
                              body=finding.description, url=finding.get_absolute_url())
    sustained_n = int(plan.rules.get("sustained_checks", 3))
    recent = list(plan.checks.order_by("-at", "-pk").values_list("status", flat=True)
                  [:sustained_n])
    sustained = len(recent) == sustained_n and all(
        s in (PlanStatus.BREACH, PlanStatus.SEVERE) for s in recent)
    severe = [b for b in found if b.severe]
    if not (sustained or severe):
        return
    named = ", ".join(f"{b.statistic} = {b.value:.4g} (limit {b.limit:g})" for b in found)
    reason = (f"Severe monitoring breach: {named}." if severe else
              f"Monitoring breaches in {sustained_n} checks in a row: {named}.")
    governance.version_require_revalidation(
        version=version, reason=reason, now=now,
        figures={"check": check.pk, "breaches": check.breaches})
    if plan.rules.get("suspend") and version.state == VersionState.APPROVED:
        governance.version_transition(version=version, to=VersionState.SUSPENDED, actor=None,
                                      reason=f"Suspended by monitoring: {reason}",
                                      details={"monitoring_check": check.pk})


# ---------------------------------------------------------------------------------------------
# Outcomes and overrides.

def _endpoint_for(actor: User | None, app_key: AppKey | None, slug: Any) -> Endpoint:
    """The endpoint outcomes or overrides are posted for: one the person may see and record
    outcomes on, or one the application key is scoped to."""
    if not isinstance(slug, str) or not slug:
        raise ValidationFailed("Name the endpoint the predictions came from.", field="endpoint")
    if app_key is not None:
        endpoint = Endpoint.objects.select_related("primary_version__model").filter(
            slug=slug).first()
        if endpoint is None:
            raise ValidationFailed(f"There is no endpoint {slug!r}.", field="endpoint")
        if app_key.revoked_at is not None or not app_key.endpoints.filter(
                pk=endpoint.pk).exists():
            refuse(None, f"The application key {app_key.name!r} is not scoped to endpoint "
                   f"{slug!r}: an application posts outcomes and overrides only for the "
                   "endpoints its key may call; ask a deployer to add the endpoint to the key.",
                   attempted="monitoring.outcomes", target=endpoint.primary_version,
                   code=permissions.WRONG_ROLE, principal=f"app:{app_key.prefix}")
        return endpoint
    if actor is None:
        raise ValueError("outcomes and overrides are recorded by a person or an application key")
    endpoint = Endpoint.objects.visible_to(actor).select_related("primary_version__model") \
        .filter(slug=slug).first()
    if endpoint is None:
        raise ValidationFailed(f"There is no endpoint {slug!r} that you may see.",
                               field="endpoint")
    refusal = permissions.reason_cannot_record_outcomes(actor, endpoint.primary_version.model)
    if refusal:
        refuse(actor, refusal, attempted="monitoring.outcomes", target=endpoint.primary_version)
    return endpoint


def _items(items: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(items, list) or not items:
        raise ValidationFailed(f"Send a non-empty list of {what}.", field=what)
    if len(items) > MAX_BATCH:
        raise ValidationFailed(f"Send at most {MAX_BATCH} {what} at a time; this has "
                               f"{len(items)}.", field=what)
    problems: dict[str, list[str]] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems[f"{what}[{i}]"] = ["Must be an object."]
            continue
        rid, row = item.get("request_id"), item.get("row", 0)
        if not isinstance(rid, str) or not rid or len(rid) > 64:
            problems.setdefault(f"{what}[{i}].request_id", []).append(
                "The prediction's request id (X-Request-Id of the gateway's answer), 1 to 64 "
                "characters.")
        if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < 1000:
            problems.setdefault(f"{what}[{i}].row", []).append(
                "The record's position in the request's batch, 0 to 999 (default 0).")
    if problems:
        raise ValidationFailed("Some items are not valid: "
                               + " ".join(f"{k}: {' '.join(v)}" for k, v in problems.items()),
                               fields=problems)
    return items


def outcomes_record(*, actor: User | None, endpoint: Any, outcomes: Any,
                    app_key: AppKey | None = None) -> dict[str, int]:
    """Store actual outcomes of predictions (joined to the prediction log by request id when
    the checks read them), posted by a person (``actor``) or by an application with its key
    (``app_key``, scoped to the endpoint). An outcome already recorded for a prediction is
    kept, not replaced: the answer says how many were new."""
    target = _endpoint_for(actor, app_key, endpoint)
    items = _items(outcomes, "outcomes")
    problems: dict[str, list[str]] = {}
    for i, item in enumerate(items):
        value = item.get("outcome")
        if value is None or isinstance(value, dict | list) or (
                isinstance(value, str) and not 0 < len(value) <= 100):
            problems[f"outcomes[{i}].outcome"] = [
                "The actual outcome: a number, true/false, or a label of up to 100 characters."]
        sensitive = item.get("sensitive", {})
        if not isinstance(sensitive, dict) or len(sensitive) > 20 or not all(
                isinstance(k, str) and isinstance(v, str | int | float | bool) and
                len(str(v)) <= 100 for k, v in sensitive.items()):
            problems[f"outcomes[{i}].sensitive"] = [
                "Sensitive attributes as an object of up to 20 names to short values."]
        unknown = set(item) - {"request_id", "row", "outcome", "sensitive"}
        if unknown:
            problems[f"outcomes[{i}]"] = [f"Unknown fields {', '.join(sorted(unknown))}."]
    if problems:
        raise ValidationFailed("Some outcomes are not valid: "
                               + " ".join(f"{k}: {' '.join(v)}" for k, v in problems.items()),
                               fields=problems)
    rows = [Outcome(endpoint_slug=target.slug, request_id=item["request_id"],
                    row=item.get("row", 0), outcome=item["outcome"],
                    sensitive=item.get("sensitive", {}), recorded_by=actor,
                    recorded_by_key=app_key) for item in items]
    return _store(actor, app_key, target, rows, Outcome, "monitoring.outcomes_record")


def overrides_record(*, actor: User | None, endpoint: Any, overrides: Any,
                     app_key: AppKey | None = None) -> dict[str, int]:
    """Record that people overrode the model's decisions, each with a reason code and an
    optional note, posted by a person (``actor``) or an application with its key (``app_key``);
    an override already recorded for a prediction is kept."""
    target = _endpoint_for(actor, app_key, endpoint)
    items = _items(overrides, "overrides")
    problems: dict[str, list[str]] = {}
    for i, item in enumerate(items):
        reason = item.get("reason")
        if not isinstance(reason, str) or not reason.strip() or len(reason) > 100:
            problems[f"overrides[{i}].reason"] = [
                "Why the person overrode the model: a reason code of up to 100 characters "
                "(e.g. 'policy_exception')."]
        note = item.get("note", "")
        if not isinstance(note, str) or len(note) > 2000:
            problems[f"overrides[{i}].note"] = ["A note of up to 2000 characters."]
        unknown = set(item) - {"request_id", "row", "reason", "note"}
        if unknown:
            problems[f"overrides[{i}]"] = [f"Unknown fields {', '.join(sorted(unknown))}."]
    if problems:
        raise ValidationFailed("Some overrides are not valid: "
                               + " ".join(f"{k}: {' '.join(v)}" for k, v in problems.items()),
                               fields=problems)
    rows = [Override(endpoint_slug=target.slug, request_id=item["request_id"],
                     row=item.get("row", 0), reason=item["reason"].strip(),
                     note=item.get("note", ""), recorded_by=actor,
                     recorded_by_key=app_key) for item in items]
    return _store(actor, app_key, target, rows, Override, "monitoring.overrides_record")


def _store(actor: User | None, app_key: AppKey | None, endpoint: Endpoint, rows: Iterable[Any],
           model: Any, action: str) -> dict[str, int]:
    rows = list(rows)
    keys = {(r.request_id, r.row) for r in rows}
    with transaction.atomic():
        before = set(model.objects.filter(
            endpoint_slug=endpoint.slug, request_id__in=sorted({k[0] for k in keys}))
            .values_list("request_id", "row"))
        # A prediction's outcome (or override) recorded twice keeps the first: the unique
        # constraint drops the repeat, also one sent concurrently.
        model.objects.bulk_create(rows, ignore_conflicts=True)
        stored = len(keys - before)
        audit.record(action=action, actor=actor, obj=endpoint, payload={
            "endpoint": endpoint.slug, "received": len(rows), "new": stored,
            "app_key": ({"name": app_key.name, "prefix": app_key.prefix} if app_key else None),
            "request_ids": sorted({r.request_id for r in rows})[:100]})
    return {"received": len(rows), "new": stored}


def plan_for_endpoint(endpoint: Endpoint) -> list[MonitoringPlan]:
    """The plans of the versions on an endpoint (primary, canary), in that order."""
    versions = [v for role, v in endpoint.deployed_versions() if role != "shadow"]
    plans = {p.version_id: p for p in MonitoringPlan.objects.filter(
        version__in=[v.pk for v in versions]).select_related("version__model")}
    return [plans[v.pk] for v in versions if v.pk in plans]


def version_url(version: ModelVersion) -> str:
    return workflow_url(version)
