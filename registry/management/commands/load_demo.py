"""Load the demo: teams, one user per role, and the real German-credit model with its ONNX version.

Idempotent: running it again changes nothing that exists. Writes go through the services, so the
demo's history is in the audit trail like any other.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from core import services as accounts
from core.audit import SYSTEM
from core.models import Role, Team, User
from registry import data_sources, services
from registry.models import DataSource, DecisionType, RegisteredModel, Task

DEMO_PASSWORD = "assay-demo"  # noqa: S105 — printed by the run command; demo only

DEMO_TEAMS = [("credit", "Credit Risk Analytics"), ("fraud", "Fraud Analytics"),
              ("validation", "Model Validation")]
DEMO_USERS = [
    ("dana", "Dana", "Scientist", [Role.DATA_SCIENTIST], ["credit"]),
    ("frank", "Frank", "Fraudson", [Role.DATA_SCIENTIST], ["fraud"]),
    ("victor", "Victor", "Validator", [Role.VALIDATOR], ["validation"]),
    ("boris", "Boris", "Board", [Role.REVIEW_BOARD], []),
    ("rhea", "Rhea", "Risk", [Role.RISK_OFFICER], []),
    ("aude", "Aude", "Auditor", [Role.AUDITOR], []),
    ("adam", "Adam", "Admin", [Role.ADMIN], []),
]
DEMO_MODEL_SLUG = "german-credit-scorecard"
GERMAN_DATA = "UCI Statlog German Credit data set"


class Command(BaseCommand):
    help = "Load demo teams, users of every role and the German-credit model (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--files", type=Path, metavar="FOLDER",
            help="also write the demo model's ONNX file and evaluation data (its held-out 25%% "
                 "test split, CSV with the good_credit label) into FOLDER, to try an upload")

    def handle(self, *args, **options) -> None:
        teams = {}
        for slug, name in DEMO_TEAMS:
            teams[slug] = Team.objects.filter(slug=slug).first() or accounts.team_create(
                actor=SYSTEM, name=name, slug=slug)
        for username, first, last, roles, team_slugs in DEMO_USERS:
            accounts.ensure_user(username=username, password=DEMO_PASSWORD,
                                 first_name=first, last_name=last,
                                 email=f"{username}@assay.example", roles=roles,
                                 teams=[teams[s] for s in team_slugs])
        if not RegisteredModel.objects.filter(slug=DEMO_MODEL_SLUG).exists():
            self._load_model(User.objects.get(username="dana"), teams["credit"])
        if options.get("files"):
            self._write_files(options["files"])
        self.stdout.write(self.style.SUCCESS("Demo loaded."))
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for username, _f, _l, roles, team_slugs in DEMO_USERS:
            what = ", ".join(Role(r).label for r in roles)
            where = f" — team {', '.join(team_slugs)}" if team_slugs else ""
            self.stdout.write(f"  {username:<7} {what}{where}")

    def _write_files(self, folder: Path) -> None:
        """The files a newcomer uploads first: the ONNX model (a new model or version) and data
        it has never seen (evaluation data). Written once; kept as they are afterwards."""
        from registry.demo.train_german_credit import TARGET, build_demo_artifact, train

        folder.mkdir(parents=True, exist_ok=True)
        onnx_path, data_path = folder / "german_credit.onnx", folder / "german_credit_test.csv"
        if not onnx_path.exists():
            build_demo_artifact(onnx_path)
        if not data_path.exists():
            _pipeline, features, labels, _metrics = train()
            features.assign(**{TARGET: labels}).to_csv(data_path, index=False)

    def _load_model(self, dana: User, team: Team) -> None:
        from registry.demo.train_german_credit import build_demo_artifact

        with tempfile.TemporaryDirectory() as tmp:
            demo = build_demo_artifact(Path(tmp) / "german_credit.onnx")
            self.stdout.write(f"Trained the demo model: {demo.metrics}")
            with transaction.atomic():
                german = DataSource.objects.filter(name=GERMAN_DATA).first() \
                    or data_sources.data_source_create(
                        actor=dana, name=GERMAN_DATA, system="UCI ML repository",
                        description="1,000 consumer credit applications from one German bank "
                                    "(1994), 20 attributes; CC BY 4.0.")
                model = services.model_create(
                    actor=dana, team=team, slug=DEMO_MODEL_SLUG,
                    name="German credit scorecard",
                    purpose=("Scores applicants for consumer loans: the probability that the "
                             "credit turns out good, used to approve, refer or decline."),
                    intended_use="Decision support for consumer credit applications up to "
                                 "20,000 DM; a credit officer reviews every decline.",
                    intended_users="Retail credit officers.",
                    restrictions="Not for business lending, collections or pricing.",
                    business_line="Retail lending", legal_entity="Assay Bank Deutschland",
                    decision_type=DecisionType.CREDIT, task=Task.BINARY,
                    known_limitations="Trained on 1,000 historical applications from one "
                                      "German bank (1994); small sample, dated population.",
                    linked_data_sources=[german],
                    tags=["retail", "scorecard", "demo"],
                )
                with demo.path.open("rb") as artifact:
                    services.version_create(
                        actor=dana, model=model, artifact=artifact,
                        artifact_filename="german_credit.onnx",
                        changelog="First version: logistic regression over the raw "
                                  "application attributes.",
                        training_data_description=(
                            "Statlog German Credit (registry/demo/german_credit.csv; the digest "
                            "is of that whole file). Trained on a stratified 75% split drawn "
                            "with a fixed seed; the other 25% is the test set."),
                        training_data_sha256=demo.training_data_sha256,
                    )
