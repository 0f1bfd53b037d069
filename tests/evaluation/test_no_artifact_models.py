"""Vendor models and models with no ONNX form (issue 18): validated without an artifact — on
their documentation and an outcomes analysis of uploaded predictions — with the vendor's due
diligence, contract, contingency plan and releases; approved, never served. And the idea stage:
intake and tiering before any version exists."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from core import signing
from core.audit import SYSTEM
from core.errors import Conflict, PermissionRefused, ValidationFailed
from core.models import AuditEvent, Role
from core.verify_bundle import EnvelopeError
from core.verify_pack import verify_pack
from evaluation import engine
from evaluation import services as evaluation
from evaluation.models import Run, RunStatus
from governance import services as governance
from governance.gates import blocking_items, evidence_standings
from governance.models import DiligenceAnswer, Notification, NotificationKind
from governance.policy import DEFAULT_DUE_DILIGENCE
from monitoring.models import MonitoringPlan
from registry import services as registry
from registry.artifacts import inspect_artifact
from registry.models import ModelVersion, RegisteredModel, SignatureKind
from reports import pack
from reports.models import Report, ReportKind
from serving import services as serving
from tests.conftest import PASSWORD, approve_policy
from tests.evaluation.conftest import GERMAN_CSV, SENSITIVE, policy_definition, upload
from tests.governance.conftest import MEDIUM
from tests.registry.conftest import model_fields
from tests.reports.conftest import pdf_bytes, pdf_text

CONTRACT = {"contract_reference": "MSA-2026-114", "contract_start": dt.date(2026, 1, 1),
            "contract_end": dt.date(2028, 12, 31), "renewal_date": dt.date(2028, 10, 1),
            "sla_terms": "99.9% monthly availability; 2 s p99 latency.",
            "contingency_plan": "Fall back to the in-house scorecard; exit within 90 days."}


def vendor_fields(**overrides) -> dict:
    return model_fields(**{"name": "Bureau risk score", "sourcing": "vendor",
                           "vendor_name": "Bureau Analytics", "artifact_form": "vendor_api",
                           **overrides})


@pytest.fixture
def vendor_model(evaluation_policy, dana, teams) -> RegisteredModel:
    """A vendor's hosted scoring API, intake done (tier 2), contract and plan recorded."""
    model = registry.model_create(actor=dana, team=teams["credit"], **vendor_fields(**CONTRACT))
    governance.intake_record(actor=dana, model=model, is_model=True, answers=MEDIUM,
                             rationale="A bought-in credit score used to approve loans.")
    return model


def document(name: str = "vendor-model-guide.pdf") -> io.BytesIO:
    f = io.BytesIO(b"%PDF-1.4 the vendor's model documentation")
    f.name = name
    return f


@pytest.fixture
def documented(vendor_model, dana) -> RegisteredModel:
    registry.vendor_document_add(actor=dana, model=vendor_model, document=document(),
                                 filename="vendor-model-guide.pdf")
    return vendor_model


@pytest.fixture
def vendor_version(documented, dana) -> ModelVersion:
    return registry.version_create(actor=dana, model=documented, changelog="Release 2026.1.")


@pytest.fixture
def in_validation(vendor_version, people) -> ModelVersion:
    governance.version_submit(actor=people["dana"], version=vendor_version)
    governance.validator_assign(actor=people["rhea"], version=vendor_version,
                                validator=people["victor"])
    vendor_version.refresh_from_db()
    return vendor_version


@pytest.fixture(scope="module")
def predictions_csv(demo_onnx) -> bytes:
    """German credit with the model's favourable-class probability per row (the demo ONNX
    model standing in for the vendor's API), the label and the sensitive columns."""
    frame = pd.read_csv(GERMAN_CSV)
    specs = [t.as_dict() for t in inspect_artifact(io.BytesIO(demo_onnx),
                                                   max_bytes=10**9).inputs]
    scores = engine._score("binary_classification", demo_onnx, specs, frame,
                           frame["good_credit"], "1")["y_prob"]
    out = frame[["good_credit", "sex", "age"]].assign(vendor_score=scores)
    return out.to_csv(index=False).encode()


def predictions_upload(model: RegisteredModel, actor, csv: bytes):
    return evaluation.dataset_upload(actor=actor, model=model, file=upload(csv, "scores.csv"),
                                     filename="scores.csv", label_column="good_credit",
                                     predictions_column="vendor_score",
                                     sensitive_features=SENSITIVE)


def answer_all(model: RegisteredModel, dana, victor=None, version=None) -> None:
    for item in DEFAULT_DUE_DILIGENCE:
        governance.diligence_answer(actor=dana, model=model, item=item["key"],
                                    answer=f"{item['label']}: evidence on file.",
                                    evidence_reference="DD pack 2026, section 3")
        if victor is not None:
            governance.diligence_review(actor=victor, version=version, item=item["key"],
                                        decision="accepted")


# --- registration ---------------------------------------------------------------------------


def test_a_model_with_no_onnx_form_takes_no_artifact(vendor_model, dana, demo_onnx):
    with pytest.raises(ValidationFailed, match="no ONNX form") as refused:
        registry.version_create(actor=dana, model=vendor_model, artifact=upload(demo_onnx))
    assert refused.value.status == 400 and vendor_model.versions.count() == 0


def test_the_form_and_contract_are_validated(evaluation_policy, dana, teams):
    with pytest.raises(ValidationFailed) as refused:
        registry.model_create(actor=dana, team=teams["credit"], **vendor_fields(
            artifact_form="excel", contract_start=dt.date(2027, 1, 1),
            contract_end=dt.date(2026, 1, 1)))
    assert set(refused.value.fields) == {"artifact_form", "contract_end"}


# --- the validation path without an artifact -----------------------------------------------


def test_documentation_not_an_artifact_is_what_submission_needs(vendor_model, dana):
    version = registry.version_create(actor=dana, model=vendor_model, changelog="2026.1")
    kinds = {b.kind for b in blocking_items(version)}
    assert "artifact" not in kinds and "documentation" in kinds
    with pytest.raises(Conflict, match="documentation"):
        governance.version_submit(actor=dana, version=version)
    registry.vendor_document_add(actor=dana, model=vendor_model, document=document(),
                                 filename="guide.pdf")
    governance.version_submit(actor=dana, version=version)
    version.refresh_from_db()
    assert version.state == "submitted"


def test_outcomes_analysis_gives_the_figures_a_run_on_the_graph_gives(
        in_validation, victor, predictions_csv, german_data, validating, queued_runs,
        django_capture_on_commit_callbacks):
    """The same rows scored by the ONNX graph, or read from a predictions file: the same checks,
    metric names and figures (one metric implementation)."""
    predictions = predictions_upload(in_validation.model, victor, predictions_csv)
    assert predictions.is_predictions
    with django_capture_on_commit_callbacks(execute=True):
        outcomes = evaluation.run_launch(actor=victor, version=in_validation,
                                         dataset=predictions,
                                         checks=["performance", "bias", "calibration"])
        graph = evaluation.run_launch(actor=victor, version=validating, dataset=german_data,
                                      checks=["performance", "bias", "calibration"])
    assert queued_runs.run() == ["succeeded", "succeeded"]
    outcomes.refresh_from_db()
    graph.refresh_from_db()
    assert outcomes.artifact_digest == "" and outcomes.dataset_digests == [predictions.sha256]
    for check in ("performance", "bias", "calibration"):
        ours, theirs = (r.results["checks"][check]["figures"] for r in (outcomes, graph))
        assert ours.keys() == theirs.keys()
        for name in ("roc_auc", "dp_ratio", "ece"):
            if name in ours:
                assert ours[name] == pytest.approx(theirs[name], abs=1e-6)
    standings = {s.requirement.check: s for s in evidence_standings(in_validation)}
    assert all(s.counts and s.met for s in standings.values())
    assert not [b for b in blocking_items(in_validation) if b.kind == "evidence"]


def test_a_predictions_file_is_checked_before_it_is_stored(vendor_model, dana,
                                                           predictions_csv):
    with pytest.raises(ValidationFailed) as refused:
        evaluation.dataset_upload(actor=dana, model=vendor_model,
                                  file=upload(predictions_csv, "s.csv"), filename="s.csv",
                                  label_column="good_credit", predictions_column="score")
    assert "predictions_column" in refused.value.fields
    assert vendor_model.datasets.count() == 0


def test_graph_checks_are_refused_and_shown_not_applicable(in_validation, victor,
                                                           predictions_csv, adam):
    predictions = predictions_upload(in_validation.model, victor, predictions_csv)
    with pytest.raises(ValidationFailed, match="not applicable without an artifact"):
        evaluation.run_launch(actor=victor, version=in_validation, dataset=predictions,
                              checks=["performance", "robustness"])
    assert not Run.objects.filter(version=in_validation).exists()
    # The version's bound policy requires robustness: not applicable, never "met" by evidence.
    definition = policy_definition([{"check": "robustness"}])
    pv = approve_policy(governance.policy_version_create(
        actor=adam, policy_slug="robust", name="Robust", definition=definition))
    in_validation.governance.policy_version = pv
    in_validation.governance.save()
    (standing,) = evidence_standings(in_validation)
    assert standing.not_applicable and not standing.counts and standing.evidence is None
    assert "not applicable without an artifact" in standing.why_not
    # A policy may instead make them block (to be waived, or the model declined).
    definition["without_artifact"] = {"graph_checks": "block"}
    strict = approve_policy(governance.policy_version_create(
        actor=adam, policy_slug="robust-strict", name="Robust, strict", definition=definition))
    in_validation.governance.policy_version = strict
    in_validation.governance.save()
    assert [b.key for b in blocking_items(in_validation) if b.kind == "evidence"] == ["robustness"]


# --- vendor due diligence, contract, plan, releases ---------------------------------------------


def test_due_diligence_is_answered_by_the_owner_and_reviewed_by_the_validator(
        in_validation, dana, victor, frank):
    model = in_validation.model
    keys = {b.key for b in blocking_items(in_validation) if b.kind == "vendor"}
    assert keys == {f"diligence:{i['key']}" for i in DEFAULT_DUE_DILIGENCE}

    governance.diligence_answer(actor=dana, model=model, item="right_to_audit",
                                answer="Clause 14 of the MSA.")
    assert Notification.objects.filter(user=victor, kind=NotificationKind.DUE_DILIGENCE).exists()
    with pytest.raises(ValidationFailed, match="Say why"):
        governance.diligence_review(actor=victor, version=in_validation, item="right_to_audit",
                                    decision="rejected")
    governance.diligence_review(actor=victor, version=in_validation, item="right_to_audit",
                                decision="rejected", comment="Clause 14 covers data only.")
    assert Notification.objects.filter(user=dana, kind=NotificationKind.DUE_DILIGENCE).exists()
    assert any("rejected by victor" in b.message for b in blocking_items(in_validation))
    with pytest.raises(PermissionRefused):
        governance.diligence_review(actor=dana, version=in_validation, item="right_to_audit",
                                    decision="accepted")
    with pytest.raises(ValidationFailed, match="no due-diligence item"):
        governance.diligence_answer(actor=dana, model=model, item="horoscope", answer="Yes.")

    answer_all(model, dana, victor, in_validation)
    assert not [b for b in blocking_items(in_validation) if b.kind == "vendor"]
    assert DiligenceAnswer.objects.filter(model=model, review="accepted").count() == len(
        DEFAULT_DUE_DILIGENCE)
    assert AuditEvent.objects.filter(action="vendor.diligence_review", model_id=model.pk
                                     ).count() == len(DEFAULT_DUE_DILIGENCE) + 1


def test_the_contract_reference_and_contingency_plan_are_required_before_approval(
        documented, dana):
    registry.model_update(actor=dana, model=documented, contract_reference="",
                          contingency_plan="")
    version = registry.version_create(actor=dana, model=documented)
    keys = {b.key for b in blocking_items(version) if b.kind == "vendor"}
    assert {"contract", "contingency"} <= keys


def test_a_vendor_release_tells_the_owner_a_new_version_is_due(vendor_version, rhea, dana,
                                                                frank):
    model = vendor_version.model
    release = governance.vendor_release_record(actor=rhea, model=model, label="2026.2",
                                               released_on=dt.date(2026, 11, 20),
                                               notes="Recalibrated on 2025 vintages.")
    note = Notification.objects.get(user=dana, kind=NotificationKind.VENDOR_RELEASE)
    assert "2026.2" in note.title and "new version" in note.body
    assert AuditEvent.objects.filter(action="vendor.release_record", model_id=model.pk).exists()
    from governance.services.vendor import releases_awaiting_version
    assert releases_awaiting_version(model) == [release]
    registry.version_create(actor=dana, model=model, changelog="Release 2026.2.")
    assert releases_awaiting_version(model) == []
    with pytest.raises(Conflict, match="already recorded"):
        governance.vendor_release_record(actor=dana, model=model, label="2026.2",
                                         released_on=dt.date(2026, 11, 20))
    with pytest.raises(PermissionRefused):
        governance.vendor_release_record(actor=frank, model=model, label="2026.3",
                                         released_on=dt.date(2026, 12, 1))


# --- approved, never served ------------------------------------------------------------------


@pytest.fixture
def approved(in_validation, people, predictions_csv, queued_runs,
             django_capture_on_commit_callbacks) -> ModelVersion:
    """The vendor version evaluated on its predictions file, reviewed and signed off by boris
    and rhea, each write committed (so what runs after an approval commits runs)."""
    p = people
    answer_all(in_validation.model, p["dana"], p["victor"], in_validation)
    predictions = predictions_upload(in_validation.model, p["victor"], predictions_csv)
    with django_capture_on_commit_callbacks(execute=True):
        evaluation.run_launch(actor=p["victor"], version=in_validation, dataset=predictions)
    assert queued_runs.run() == ["succeeded"]
    with django_capture_on_commit_callbacks(execute=True):
        governance.review_conclude(
            actor=p["victor"], version=in_validation, artifact_sha256="",
            conceptual_soundness="The vendor's methodology paper is sound.",
            data_quality="Bureau data, refreshed monthly.",
            outcomes_analysis="Outcomes analysis on 1,000 scored applications: AUC 0.82.",
            implementation_verification="Reconciled 100 API responses against the score file.",
            limitations="Opaque to us beyond the vendor's documentation.", conclusion="approve",
            independence_attested=True)
        for who in ("boris", "rhea"):
            governance.signoff_record(actor=p[who], version=in_validation, decision="approve",
                                      comment="ok", password=PASSWORD)
    in_validation.refresh_from_db()
    assert in_validation.state == "approved"
    return in_validation


def test_approved_without_an_artifact_and_never_served(approved, people, make_user, client):
    p, in_validation = people, approved
    # Signed: its approval attestation only (docs/signing.md); there is no artifact to sign.
    assert [s.kind for s in in_validation.signatures.all()] == ["approval"]
    (problem,) = in_validation.servability_problems()
    assert "approved for use outside Assay's gateway" in problem

    deployer = make_user("devi", Role.DEPLOYER)
    with pytest.raises(Conflict, match="no artifact to serve") as refused:
        serving.endpoint_create(actor=deployer, slug="bureau", version=in_validation)
    assert refused.value.status == 409

    client.force_login(p["dana"])
    page = client.get(f"/models/{in_validation.model.slug}/versions/1/").content.decode()
    assert "Approved for use outside Assay's gateway; no artifact to serve." in page


def test_the_gateway_refuses_a_version_with_no_artifact():
    from serving.gateway.loading import Facts, quick_refusal

    facts = Facts(version_id=1, label="bureau-risk-score v1", state="approved",
                  artifact_sha256="", artifact_signature=None, approval_signature=None,
                  expired_waiver="", file_stamp=(0, 0, 0), trust_stamp=(0.0, 0))
    refused = quick_refusal(facts)
    assert refused is not None and refused.code == "no_artifact"
    assert "no artifact to serve" in refused.reason


# --- the approval attestation of a version with no artifact (docs/signing.md) ----------------

REPO = Path(__file__).resolve().parents[2]
ONE_MORE_ROW = b"1,male,30,0.5\n"  # appended to the predictions file: a tampered copy


def offline(*args: str | Path) -> subprocess.CompletedProcess:
    """The standalone verifier's command line, as an auditor runs it."""
    return subprocess.run([sys.executable, "-m", "core.verify_bundle", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=60, check=False)


def test_its_approval_attestation_is_about_the_documentation_and_the_predictions_file(
        approved, predictions_csv):
    signature = approved.current_signature(SignatureKind.APPROVAL)
    statement, keyid = signing.verify_signed_artifact(signature.bundle, purpose="approval",
                                                      artifact_sha256="")
    guide = hashlib.sha256(document().getvalue()).hexdigest()
    scores = hashlib.sha256(predictions_csv).hexdigest()
    assert statement["subject"] == [
        {"name": "documentation/vendor-model-guide.pdf", "digest": {"sha256": guide}},
        {"name": "data/scores.csv", "digest": {"sha256": scores}}]
    predicate = statement["predicate"]
    assert predicate["no_artifact"] == {"form": "vendor_api", "use": "outside_gateway"}
    # Its validation report is archived; no monitoring plan, since nothing is ever served.
    assert set(predicate["documents"]) == {"validation_report"}
    assert not MonitoringPlan.objects.filter(version=approved).exists()
    assert predicate["evidence"] and all(e["dataset_digests"] == [scores]
                                         for e in predicate["evidence"])
    assert signature.artifact_sha256 == "" and keyid == signature.key_id
    assert signature.key.purpose == "approval"
    # Backed by its attestation, and still not servable: there is nothing to serve.
    assert approved.signature_problems() == [] and not approved.is_servable()
    event = AuditEvent.objects.get(action="signing.version_signed", model_id=approved.model_id)
    assert [s["kind"] for s in event.payload["signatures"]] == ["approval"]
    # It approves no artifact, and says so to whoever checks it against one.
    with pytest.raises(EnvelopeError, match="version with no artifact"):
        signing.verify_signed_artifact(signature.bundle, purpose="approval",
                                       artifact_sha256=scores)
    # Nothing is missing, so re-signing leaves it alone.
    assert approved not in governance.approvals_resign(actor=SYSTEM).resigned
    assert approved.signatures.count() == 1


def test_the_offline_verifier_checks_the_files_the_approval_was_decided_on(
        approved, predictions_csv, tmp_path):
    signature = approved.current_signature(SignatureKind.APPROVAL)
    bundle, pem = tmp_path / signature.filename, tmp_path / "approval.pem"
    bundle.write_text(json.dumps(signature.bundle))
    pem.write_text(signature.key.public_key_pem)
    guide, scores = tmp_path / "vendor-model-guide.pdf", tmp_path / "scores.csv"
    guide.write_bytes(document().getvalue())
    scores.write_bytes(predictions_csv)

    run = offline(bundle, "--public-key", pem, "--no-artifact", "--file", guide, "--file", scores)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("VERIFIED approval attestation of bureau-risk-score version 1, "
                                 "which has no artifact (approved for use outside Assay's "
                                 "gateway)")
    assert f"{scores} is data/scores.csv" in run.stdout
    assert f"{guide} is documentation/vendor-model-guide.pdf" in run.stdout
    assert f"signed by key {signature.key_id}" in run.stdout

    scores.write_bytes(predictions_csv + ONE_MORE_ROW)
    run = offline(bundle, "--public-key", pem, "--no-artifact", "--file", guide, "--file", scores)
    assert run.returncode == 1
    assert run.stdout.startswith(f"REJECTED: {scores} has SHA-256 ")
    assert "which is none of the attestation's subjects" in run.stdout

    run = offline(bundle, "--public-key", pem, "--artifact-sha256", "0" * 64)
    assert run.returncode == 1 and "is of a version with no artifact" in run.stdout
    run = offline(bundle, "--public-key", pem, "--file", scores)
    assert run.returncode == 2 and "give --no-artifact too" in run.stderr


def test_its_certificate_is_printed_from_the_attestation(approved, predictions_csv, tmp_path):
    signature = approved.current_signature(SignatureKind.APPROVAL)
    certificate = Report.objects.get(version=approved, kind=ReportKind.CERTIFICATE)
    assert certificate.signature_id == signature.pk
    text = pdf_text(pdf_bytes(certificate), tmp_path)
    for expected in ["Approval certificate", "Bureau risk score (bureau-risk-score)",
                     "None (vendor_api): approved for use outside Assay's gateway",
                     "documentation/vendor-model-guide.pdf", "data/scores.csv"]:
        assert expected in text, expected
    joined = text.replace(" ", "")  # long hashes and the command wrap
    for expected in [hashlib.sha256(document().getvalue()).hexdigest(),
                     hashlib.sha256(predictions_csv).hexdigest(), signature.key_id,
                     f"python-mcore.verify_bundle{signature.filename}--public-keyapproval.pem"
                     f"--no-artifact--fileFILE"]:
        assert expected in joined, expected


def test_the_evidence_pack_holds_those_files_and_its_verifier_checks_them(
        approved, people, predictions_csv, tmp_path):
    path = tmp_path / "pack.zip"
    with path.open("w+b") as out:
        pack.evidence_pack_write(actor=people["aude"], model=approved.model, out=out)
    verdict = verify_pack(str(path))
    assert verdict.ok, verdict.reasons
    assert (verdict.attestations, verdict.signatures, verdict.subjects) == (1, 0, 2)
    assert "2 file(s) approved without an artifact match" in verdict.summary()
    # The audit bundle inside checks the attestation's signature, and says where its files are.
    assert any("a version with no artifact; the files its approval was decided on (2 subjects) "
               "are not in this bundle" in note for note in verdict.notes), verdict.notes
    with zipfile.ZipFile(path) as zipped:
        manifest = json.loads(zipped.read("manifest.json"))
        subjects = {s["name"]: s["path"] for s in manifest["versions"][0]["subjects"]}
        assert zipped.read(subjects["data/scores.csv"]) == predictions_csv
        assert "versions/v1/approval-certificate.pdf" in zipped.namelist()
        files = {name: zipped.read(name) for name in zipped.namelist()}

    # The predictions file replaced, and its manifest line with it (the forger's next step).
    forged = predictions_csv + ONE_MORE_ROW
    files[subjects["data/scores.csv"]] = forged
    for item in manifest["files"]:
        if item["path"] == subjects["data/scores.csv"]:
            item.update(sha256=hashlib.sha256(forged).hexdigest(), size=len(forged))
    files["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(tmp_path / "forged.zip", "w") as zipped:
        for name, content in files.items():
            zipped.writestr(name, content)
    verdict = verify_pack(str(tmp_path / "forged.zip"))
    assert not verdict.ok
    assert any(reason.startswith(subjects["data/scores.csv"]) and
               "not the file the approval was decided on" in reason
               for reason in verdict.reasons), verdict.reasons


# --- pages and API ---------------------------------------------------------------------------


def test_the_vendor_page_and_api(in_validation, api, dana, victor, frank, aude, client):
    slug = in_validation.model.slug
    client.force_login(victor)
    page = client.get(f"/models/{slug}/vendor/")
    assert page.status_code == 200 and b"Right to audit" in page.content
    client.force_login(dana)
    posted = client.post(f"/models/{slug}/vendor/diligence/answer/",
                         {"item": "right_to_audit", "answer": "Clause 14."})
    assert posted.status_code == 302
    assert client.post(f"/models/{slug}/vendor/diligence/answer/",
                       {"item": "right_to_audit", "answer": ""}).status_code == 400

    body = api.as_(dana).get(f"/api/v1/vendor-models/{slug}/").json()
    assert body["servable_by_gateway"] is False and body["contract_reference"] == "MSA-2026-114"
    assert {i["key"] for i in body["due_diligence"]} == {i["key"] for i in DEFAULT_DUE_DILIGENCE}
    reviewed = api.as_(victor).post(f"/api/v1/vendor-models/{slug}/diligence-review/",
                                    {"item": "right_to_audit", "decision": "accepted"},
                                    format="json")
    assert reviewed.status_code == 200
    item = next(i for i in reviewed.json()["due_diligence"] if i["key"] == "right_to_audit")
    assert item["answer"]["review"] == "accepted" and item["answer"]["reviewed_by"] == "victor"
    assert api.as_(frank).get(f"/api/v1/vendor-models/{slug}/").status_code == 404
    assert api.as_(aude).post(f"/api/v1/vendor-models/{slug}/diligence/",
                              {"item": "right_to_audit", "answer": "x"},
                              format="json").status_code == 403
    bad = api.as_(dana).post(f"/api/v1/vendor-models/{slug}/releases/",
                             {"label": "2026.2", "released_on": "soon"}, format="json")
    assert bad.status_code == 400 and "released_on" in bad.json()["fields"]
    made = api.as_(dana).post(f"/api/v1/vendor-models/{slug}/releases/",
                              {"label": "2026.2", "released_on": "2026-11-20"}, format="json")
    assert made.status_code == 201 and made.json()["releases"][0]["awaiting_version"] is True


def test_the_model_api_takes_the_form_and_contract(evaluation_policy, api, dana):
    made = api.as_(dana).post("/api/v1/models/", {
        **vendor_fields(team="credit"), "contract_reference": "MSA-1",
        "contract_start": "2026-01-01", "contingency_plan": "Exit in 90 days."}, format="json")
    assert made.status_code == 201, made.json()
    assert made.json()["artifact_form"] == "vendor_api" and made.json()["is_idea"] is True
    bad = api.as_(dana).patch(f"/api/v1/models/{made.json()['slug']}/",
                              {"artifact_form": "excel"}, format="json")
    assert bad.status_code == 400 and "artifact_form" in bad.json()["fields"]


# --- the idea stage ----------------------------------------------------------------------------


def test_an_idea_is_registered_and_tiered_before_any_version(evaluation_policy, dana, teams,
                                                             client, api):
    idea = registry.model_create(actor=dana, team=teams["credit"],
                                 **model_fields(name="Collections prioritiser"))
    intake = governance.intake_record(actor=dana, model=idea, is_model=True, answers=MEDIUM,
                                      rationale="Would rank accounts for collectors.")
    assert intake.tier == 2 and idea.is_idea
    client.force_login(dana)
    listed = client.get("/models/?status=idea").content.decode()
    assert "Collections prioritiser" in listed and "Idea" in listed
    page = client.get(f"/models/{idea.slug}/").content.decode()
    assert "Idea stage" in page and "Tier 2" in page
    assert api.as_(dana).get(f"/api/v1/models/{idea.slug}/").json()["is_idea"] is True
    registry.version_create(actor=dana, model=idea)
    idea.refresh_from_db()
    assert not idea.is_idea


def test_runs_of_a_no_artifact_model_fail_cleanly_on_bad_predictions(
        in_validation, victor, queued_runs, django_capture_on_commit_callbacks):
    csv = b"good_credit,score,sex\n1,0.9,male\n0,1.7,female\n1,0.4,female\n"
    dataset = evaluation.dataset_upload(actor=victor, model=in_validation.model,
                                        file=upload(csv, "p.csv"), filename="p.csv",
                                        label_column="good_credit", predictions_column="score")
    with django_capture_on_commit_callbacks(execute=True):
        run = evaluation.run_launch(actor=victor, version=in_validation, dataset=dataset,
                                    checks=["performance"])
    assert queued_runs.run() == ["failed"]
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "outside 0 to 1" in run.error


# --- the demo ----------------------------------------------------------------------------------


def test_the_demo_vendor_model_is_in_validation_with_its_outcomes_analysis(evaluation_policy,
                                                                           people, teams):
    from evaluation.demo_vendor import load_vendor_model

    model = load_vendor_model(dana=people["dana"], victor=people["victor"],
                              rhea=people["rhea"], team=teams["credit"])
    assert model is not None and not model.has_onnx_form and model.is_vendor
    version = model.versions.get()
    assert version.state == "in_validation" and not version.has_artifact
    run = Run.objects.get(version=version)
    assert run.status == RunStatus.SUCCEEDED
    assert run.results["checks"]["performance"]["figures"]["roc_auc"] == pytest.approx(0.77,
                                                                                     abs=0.01)
    assert all(s.counts for s in evidence_standings(version))
    kinds = {b.kind for b in blocking_items(version)}
    assert not kinds & {"artifact", "documentation", "vendor"}
    assert load_vendor_model(dana=people["dana"], victor=people["victor"],
                             rhea=people["rhea"], team=teams["credit"]) is None
