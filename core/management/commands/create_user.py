"""``manage.py create_user``: create an account with roles and teams from the command line.

The write goes through ``core.services.user_create`` like the admin and the API, so the new account
is in the audit trail (one event, actor: the system). Use it for the first administrator.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import services
from core.audit import SYSTEM
from core.errors import DomainError
from core.models import Role, Team


class Command(BaseCommand):
    help = "Create a user with roles and team memberships (audited). Exits non-zero on any error."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--role", dest="roles", action="append", default=[], metavar="ROLE",
            help=f"A role to grant; repeat for several. One of: {', '.join(Role.values)}.",
        )
        parser.add_argument("--team", dest="teams", action="append", default=[], metavar="SLUG",
                            help="The slug of a team to join; repeat for several.")
        parser.add_argument("--email", default="")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument(
            "--password",
            help="The password. Without it the command asks for one (interactive terminals "
                 "only); note that a password on the command line is visible to other local users.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        unknown = [r for r in options["roles"] if r not in Role.values]
        if unknown:
            raise CommandError(f"Unknown role {unknown[0]!r}; choose from: {', '.join(Role.values)}.")
        teams = []
        for slug in options["teams"]:
            team = Team.objects.filter(slug=slug).first()
            if team is None:
                known = ", ".join(Team.objects.values_list("slug", flat=True)) or "none yet"
                raise CommandError(f"No team with slug {slug!r} (teams: {known}).")
            teams.append(team)
        password = options["password"]
        if password is None:
            password = self._ask_password()
        try:
            user = services.user_create(
                actor=SYSTEM, username=options["username"], password=password,
                email=options["email"], first_name=options["first_name"],
                last_name=options["last_name"], roles=options["roles"], teams=teams,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        roles = ", ".join(sorted(user.roles)) or "no roles"
        self.stdout.write(self.style.SUCCESS(f"Created user {user.username!r} ({roles})."))

    def _ask_password(self) -> str:
        if not sys.stdin.isatty():
            raise CommandError("Give the password with --password (no terminal to ask on).")
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("The two passwords differ; nothing was created.")
        return first
