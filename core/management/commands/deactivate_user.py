"""``manage.py deactivate_user USERNAME``: end an account's sessions and revoke its API tokens.

Goes through ``core.services.user_deactivate`` (audited, actor: the system), as the admin does.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import services
from core.audit import SYSTEM
from core.errors import DomainError
from core.models import User


class Command(BaseCommand):
    help = "Deactivate a user: their sessions end and their API tokens are revoked (audited)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--reason", default="", help="Why, for the audit trail.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        if not user.is_active:  # idempotent, so scripts may run it twice
            self.stdout.write(f"{user.username!r} is already deactivated; nothing to do.")
            return
        try:
            services.user_deactivate(actor=SYSTEM, user=user, reason=options["reason"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(
            f"Deactivated {user.username!r}: sessions ended and API tokens revoked."
        ))
