"""``manage.py keys_revoke KEYID --reason "..."``: revoke a compromised key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import checkpoints, signing
from core.audit import SYSTEM
from core.errors import DomainError
from core.models.signing import Checkpoint, KeyPurpose, SigningKey


class Command(BaseCommand):
    help = ("Revoke a signing key after a compromise. Everything it ever signed stops counting as "
            "evidence; if it was active, a new key takes over and (for audit checkpoints) signs "
            "the current head at once.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("keyid")
        parser.add_argument("--reason", required=True, help="what happened (kept with the key)")

    def handle(self, *args: Any, keyid: str, reason: str, **options: Any) -> None:
        key = SigningKey.objects.filter(keyid=keyid).first()
        if key is not None and key.purpose in (KeyPurpose.ARTIFACT, KeyPurpose.APPROVAL):
            # Revoking one of these alone would leave every approval it signed unservable.
            raise CommandError(f"Key {keyid[:16]} signs {key.purpose}s: revoke it with "
                               f"manage.py signing_revoke {keyid} --reason '...', which also "
                               f"re-signs every current approval with its successor.")
        try:
            successor = signing.key_revoke(actor=SYSTEM, keyid=keyid, reason=reason)
            self.stdout.write(f"Revoked key {keyid}.")
            if successor is not None:
                self.stdout.write(f"New active {successor.purpose} key {successor.keyid}.")
                if successor.purpose == KeyPurpose.AUDIT_CHECKPOINT:
                    checkpoint = checkpoints.checkpoint_create(reason=Checkpoint.Reason.MANUAL)
                    if checkpoint is not None:
                        self.stdout.write(f"Signed a fresh checkpoint at seq {checkpoint.seq}.")
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write("Run manage.py verify_audit to check the trail against the remaining "
                          "checkpoints.")
