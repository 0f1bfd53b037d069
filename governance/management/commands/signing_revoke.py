"""``manage.py signing_revoke KEYID --reason "..."``: revoke a compromised artifact or approval
key and re-sign every current approval with its successor, in one audited command."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.audit import SYSTEM
from core.errors import DomainError
from governance import services


class Command(BaseCommand):
    help = ("Revoke an artifact or approval signing key after a compromise and re-sign every "
            "approved version with its successor. A version that cannot be re-signed stays "
            "unservable and is listed; run manage.py approvals_resign once it is fixed.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("keyid")
        parser.add_argument("--reason", required=True, help="what happened (kept with the key)")

    def handle(self, *args: Any, keyid: str, reason: str, **options: Any) -> None:
        try:
            successor, outcome = services.signing_key_revoke(actor=SYSTEM, keyid=keyid,
                                                             reason=reason)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Revoked key {keyid}.")
        if successor is not None:
            self.stdout.write(f"New active {successor.purpose} key {successor.keyid}.")
        report(self, outcome)


def report(command: BaseCommand, outcome: services.Resigned) -> None:
    """Print what re-signing did; fail (exit status 1) when a version could not be re-signed."""
    for version in outcome.resigned:
        command.stdout.write(f"Re-signed {version}.")
    if not outcome.resigned:
        command.stdout.write("No approved version needed re-signing.")
    for version, reason in outcome.failed:
        command.stderr.write(f"NOT re-signed, not servable: {version}: {reason}")
    if outcome.failed:
        raise CommandError(f"{len(outcome.failed)} approved version(s) could not be re-signed; "
                           f"fix them and run manage.py approvals_resign.")
