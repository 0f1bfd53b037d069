"""``manage.py keys_list``: the signing keys with purpose, id and validity (no private data)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core import signing
from core.models.signing import KeyPurpose


class Command(BaseCommand):
    help = "List signing keys: purpose, key id, status and validity dates."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--purpose", choices=KeyPurpose.values)

    def handle(self, *args: Any, purpose: str | None = None, **options: Any) -> None:
        keys = signing.public_keys(purpose)
        if not keys:
            self.stdout.write("No signing keys yet.")
        for key in keys:
            ended = key.revoked_at or key.retired_at
            self.stdout.write(f"{key.purpose:<17} {key.keyid} {key.status:<8} "
                              f"created {key.created_at:%Y-%m-%d %H:%M}"
                              + (f", {key.status} {ended:%Y-%m-%d %H:%M}" if ended else ""))
