"""``manage.py import_mlflow --tracking-uri URL --team SLUG --as USERNAME [--dry-run]``

Imports an MLflow model registry into the inventory (``registry.mlflow_import``): each registered
model becomes a model of the team, each READY version a draft version with its provenance. Run it
with ``--dry-run`` first; running it again imports only what is new. Exits 1 when anything was
refused, so a scheduled import shows up as failed.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import DomainError
from core.models import Team, User
from registry.mlflow_import import import_from_mlflow
from registry.models import DecisionType, Task


class Command(BaseCommand):
    help = "Import registered models and versions from an MLflow tracking server (dry run first)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tracking-uri", required=True,
                            help="The MLflow server's address, e.g. http://mlflow:5000.")
        parser.add_argument("--team", required=True, help="Slug of the team the models join.")
        parser.add_argument("--as", dest="actor", required=True,
                            help="Username the import acts as (a data scientist of the team or "
                                 "an administrator); it is recorded as the versions' author.")
        parser.add_argument("--owner", default="",
                            help="Username of the new models' owner (default: --as).")
        parser.add_argument("--model", dest="models", action="append", default=[],
                            help="Import only this registered model (repeatable).")
        parser.add_argument("--task", default="", choices=["", *Task.values],
                            help="Task of models not tagged assay.task in MLflow.")
        parser.add_argument("--decision-type", default="", choices=["", *DecisionType.values],
                            help="Decision type of models not tagged assay.decision_type.")
        parser.add_argument("--dry-run", action="store_true",
                            help="Read MLflow and say what would be imported; write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        team = Team.objects.filter(slug=options["team"]).first()
        if team is None:
            raise CommandError(f"No team with the slug {options['team']!r}. Teams: "
                               + ", ".join(Team.objects.values_list("slug", flat=True)))
        actor = self._user(options["actor"], "--as")
        owner = self._user(options["owner"], "--owner") if options["owner"] else None

        def progress(done: int, total: int, step: str) -> None:
            if options["verbosity"] > 1:
                self.stderr.write(f"[{done}/{total}] {step}")

        try:
            report = import_from_mlflow(
                actor=actor, tracking_uri=options["tracking_uri"], team=team, owner=owner,
                task=options["task"], decision_type=options["decision_type"],
                models=options["models"] or None, dry_run=options["dry_run"],
                token=os.environ.get("MLFLOW_TRACKING_TOKEN", ""), progress=progress)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        for line in report.lines:
            version = f" v{line.mlflow_version}" if line.mlflow_version is not None else ""
            into = f" -> {line.assay_model}" + (f" v{line.assay_version}"
                                                if line.assay_version else "") \
                if line.assay_model else ""
            detail = f": {line.detail}" if line.detail else ""
            self.stdout.write(f"{line.action:16} {line.registered_model}{version}{into}{detail}")
        self.stdout.write(("Dry run, nothing written: " if report.dry_run else "")
                          + report.summary())
        if report.count("refuse"):
            raise CommandError(f"{report.count('refuse')} item(s) refused; see above.")

    def _user(self, username: str, option: str) -> User:
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"{option}: no active user {username!r}.")
        return user
