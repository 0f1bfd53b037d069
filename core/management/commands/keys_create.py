"""``manage.py keys_create --purpose audit_checkpoint``: create the active key of a purpose."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import signing
from core.audit import SYSTEM
from core.errors import DomainError
from core.models.signing import KeyPurpose


class Command(BaseCommand):
    help = "Create the signing key of a purpose (its private half goes to a file in KEY_DIR)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--purpose", required=True, choices=KeyPurpose.values)

    def handle(self, *args: Any, purpose: str, **options: Any) -> None:
        try:
            key = signing.key_create(actor=SYSTEM, purpose=purpose)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Created {purpose} key {key.keyid}; private key in "
                          f"{signing.key_path(key.keyid)} (mode 0600).")
