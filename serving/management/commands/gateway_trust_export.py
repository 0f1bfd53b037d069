"""Write the serving gateway's trusted-keys file (docs/gateway.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from serving.gateway import trust


class Command(BaseCommand):
    help = ("Export the public artifact and approval keys that are not revoked to the file the "
            "serving gateway trusts (default: GATEWAY_TRUSTED_KEYS_FILE). Run it again after a "
            "key is rotated; copy the file to the gateway's host if it runs elsewhere.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", type=Path, default=None,
                            help="Where to write the file (default: GATEWAY_TRUSTED_KEYS_FILE).")

    def handle(self, *args: Any, output: Path | None = None, **options: Any) -> None:
        path = output or Path(settings.GATEWAY_TRUSTED_KEYS_FILE)
        count = trust.export(path)
        self.stdout.write(f"Wrote {count} public key(s) to {path}.")
