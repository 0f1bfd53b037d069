"""``manage.py approvals_resign``: re-sign every approved version whose signatures are missing
or were made by a revoked key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from core.audit import SYSTEM
from governance import services
from governance.management.commands.signing_revoke import report


class Command(BaseCommand):
    help = ("Re-sign, with the active keys, every approved version whose artifact signature or "
            "approval attestation is missing, by a revoked key, or for another artifact.")

    def handle(self, *args: Any, **options: Any) -> None:
        report(self, services.approvals_resign(actor=SYSTEM))
