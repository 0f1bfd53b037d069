"""Install the shipped governance policy templates (SR 11-7 current by default). Idempotent."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from governance.models import PolicyVersion
from governance.services import ensure_policy_templates


class Command(BaseCommand):
    help = "Create the SR 11-7 and SR 26-2 policy templates if missing (idempotent)."

    def handle(self, *args, **options) -> None:
        created = ensure_policy_templates()
        for pv in created:
            self.stdout.write(f"Created {pv}.")
        self.stdout.write(self.style.SUCCESS(f"Current policy: {PolicyVersion.objects.current()}"))
