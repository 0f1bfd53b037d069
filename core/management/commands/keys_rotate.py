"""``manage.py keys_rotate --purpose audit_checkpoint``: retire the active key, start a new one."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import signing
from core.audit import SYSTEM
from core.errors import DomainError
from core.models.signing import KeyPurpose


class Command(BaseCommand):
    help = ("Rotate the signing key of a purpose: the old key is retired (its past signatures stay "
            "valid) and a new key signs from now on.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--purpose", required=True, choices=KeyPurpose.values)

    def handle(self, *args: Any, purpose: str, **options: Any) -> None:
        try:
            key = signing.key_rotate(actor=SYSTEM, purpose=purpose)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"New active {purpose} key {key.keyid}; the previous one is retired.")
