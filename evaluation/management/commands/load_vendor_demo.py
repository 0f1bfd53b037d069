"""Load the demo's vendor model (evaluation.demo_vendor), after ``load_demo`` (its users and
teams) and ``load_policy_templates`` (the policy it is governed by). Idempotent."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.models import Team, User
from evaluation.demo_vendor import load_vendor_model


class Command(BaseCommand):
    help = "Load the demo vendor model with no ONNX form, in validation (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            people = {u: User.objects.get(username=u) for u in ("dana", "victor", "rhea")}
            team = Team.objects.get(slug="credit")
        except (User.DoesNotExist, Team.DoesNotExist):
            raise CommandError("Run manage.py load_demo first: the vendor model belongs to its "
                               "credit team and people.") from None
        model = load_vendor_model(team=team, **people)
        self.stdout.write(self.style.SUCCESS(
            f"Loaded the vendor model {model.slug}." if model else
            "The vendor model is already loaded."))
