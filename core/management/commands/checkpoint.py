"""``manage.py checkpoint``: sign the audit chain's head now (the schedule does it every
ASSAY_CHECKPOINT_INTERVAL_S seconds when events were added)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import checkpoint_file, checkpoints
from core.errors import DomainError
from core.models.signing import Checkpoint


class Command(BaseCommand):
    help = "Sign a checkpoint of the audit chain's head (database + checkpoint file)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-new", action="store_true",
                            help="only if events were added since the last checkpoint")

    def handle(self, *args: Any, if_new: bool = False, **options: Any) -> None:
        try:
            checkpoint = (checkpoints.checkpoint_if_new_events() if if_new
                          else checkpoints.checkpoint_create(reason=Checkpoint.Reason.MANUAL))
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if checkpoint is None:
            self.stdout.write("Nothing to sign: no events since the last checkpoint.")
            return
        self.stdout.write(f"Checkpoint at seq {checkpoint.seq} ({checkpoint.chain_hash}) signed "
                          f"by key {checkpoint.keyid[:16]}; appended to "
                          f"{checkpoint_file.path()}.")
