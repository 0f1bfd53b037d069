"""Install the shipped governance policy templates, every revision (SR 11-7's latest current by
default). Idempotent."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from governance.models import PolicyVersion
from governance.services import ensure_policy_templates


class Command(BaseCommand):
    help = ("Install each revision of the SR 11-7 and SR 26-2 policy templates that is missing, as "
            "a new policy version; a template's latest revision becomes current where an older "
            "revision of it is (idempotent). Versions already submitted keep their policy.")

    def handle(self, *args, **options) -> None:
        created = ensure_policy_templates()
        for pv in created:
            self.stdout.write(f"Created {pv}: {pv.notes}")
        self.stdout.write(self.style.SUCCESS(f"Current policy: {PolicyVersion.objects.current()}"))
