"""Load the demo's tool that is not a model: an end-user computing spreadsheet of the credit team,
recorded at intake as not a model and put in the tool register (after ``load_demo``, which loads
the users and teams, and ``load_policy_templates``, whose current policy sets the tool's
workflow).

Idempotent: running it again changes nothing that exists. Writes go through the services, so the
demo's history is in the audit trail like any other.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.models import Team, User
from governance import services
from governance.models import PolicyVersion, Tool
from registry import services as registry
from registry.models import DecisionType, RegisteredModel, Task

DEMO_TOOL_SLUG = "provisioning-overlay-workbook"


class Command(BaseCommand):
    help = ("Load the demo's non-model tool (a provisioning overlay spreadsheet) into the tool "
            "register; run after load_policy_templates and load_demo (idempotent).")

    def handle(self, *args, **options) -> None:
        if Tool.objects.filter(model__slug=DEMO_TOOL_SLUG).exists():
            self.stdout.write("The demo tool is loaded already.")
            return
        dana = User.objects.filter(username="dana").first()
        team = Team.objects.filter(slug="credit").first()
        if dana is None or team is None or PolicyVersion.objects.current() is None:
            raise CommandError("Run load_policy_templates and load_demo first: the demo tool "
                               "belongs to dana's credit team and takes the current policy.")
        with transaction.atomic():
            entry = RegisteredModel.objects.filter(slug=DEMO_TOOL_SLUG).first() or \
                registry.model_create(
                    actor=dana, team=team, slug=DEMO_TOOL_SLUG,
                    name="Provisioning overlay workbook",
                    purpose=("Spreadsheet that adds the credit committee's management overlays "
                             "to the modelled loan-loss provisions, segment by segment, before "
                             "they are booked."),
                    business_line="Retail lending", decision_type=DecisionType.OTHER,
                    task=Task.REGRESSION, tags=["euc", "demo"])
            services.intake_record(
                actor=dana, model=entry, is_model=False,
                rationale=("It estimates nothing: it sums the modelled provisions and the "
                           "overlays the credit committee decided, with a fixed rule per "
                           "segment. A spreadsheet control, not a model."))
            policy = services.current_policy()
            controls = policy.rules.tool_rules("high").controls
            tool = services.tool_register(
                actor=dana, model=entry, kind="spreadsheet", criticality="high",
                usage=("Finance and credit risk, monthly at each close: the booked provisions "
                       "come out of it."),
                controls={c: True for c in controls[:3]})
        self.stdout.write(self.style.SUCCESS(
            f"Demo tool loaded: {entry.name}, first review due {tool.next_review_due}."))
