"""Import an existing inventory from a CSV file (docs/inventory-import.md): a dry run unless
``--commit``; every problem by line and column; all rows or none."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.models import User
from governance import services


class Command(BaseCommand):
    help = ("Check an inventory CSV and, with --commit, import every model in it in one "
            "transaction (all rows or none), as the administrator named by --as.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv", type=Path, help="The inventory CSV (UTF-8).")
        parser.add_argument("--as", dest="username", required=True,
                            help="The administrator the import is recorded as.")
        parser.add_argument("--commit", action="store_true",
                            help="Import (without it: a dry run that writes nothing).")

    def handle(self, *args: object, **options: object) -> None:
        path = options["csv"]
        assert isinstance(path, Path)  # noqa: S101 (argparse's type)
        actor = User.objects.filter(username=options["username"], is_active=True).first()
        if actor is None:
            raise CommandError(f"No active user {options['username']!r}: name an administrator "
                               "with --as.")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from exc
        report = services.inventory_import(actor=actor, data=data,
                                           dry_run=not options["commit"], filename=path.name)
        for error in report.errors:
            where = f"line {error.line}" if error.line else "file"
            column = f", {error.column}" if error.column else ""
            self.stderr.write(f"{path.name}: {where}{column}: {error.message}")
        if report.errors:
            raise CommandError(f"{len(report.errors)} problem(s); nothing was imported.")
        if report.dry_run:
            self.stdout.write(self.style.SUCCESS(
                f"{report.rows} row(s) checked, nothing wrong; run again with --commit to "
                "import them."))
        else:
            self.stdout.write(self.style.SUCCESS(
                f"Imported {len(report.created)} model(s): {', '.join(report.created)}."))
