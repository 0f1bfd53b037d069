"""``manage.py audit_export [--model SLUG] [--from DATE] [--to DATE] --out FILE``."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import export
from core.audit import SYSTEM
from core.errors import DomainError


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"{text!r} is not a date; write it as YYYY-MM-DD.") from exc


class Command(BaseCommand):
    help = ("Export the audit trail (whole, one model's events, or a date range) as a bundle "
            "that verifies offline: python -m core.verify_bundle FILE.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", default="", help="slug of the model to extract")
        parser.add_argument("--from", dest="date_from", default="", help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", default="", help="last day, YYYY-MM-DD")
        parser.add_argument("--out", required=True, help="file to write (.jsonl)")

    def handle(self, *args: Any, model: str, date_from: str, date_to: str, out: str,
               **options: Any) -> None:
        target = Path(out)
        if not target.parent.is_dir():
            raise CommandError(f"The folder {target.parent} does not exist; create it first.")
        try:
            prepared = export.audit_export(
                actor=SYSTEM, model_slug=model,
                date_from=_date(date_from) if date_from else None,
                date_to=_date(date_to) if date_to else None)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        partial = target.with_name(target.name + ".partial")
        with partial.open("w", encoding="utf-8") as handle:
            prepared.write_to(handle)
        os.replace(partial, target)
        self.stdout.write(f"Wrote {target}: events 1..{prepared.checkpoint.seq}, scope "
                          f"{prepared.scope.tag()}, checkpoint signed by key "
                          f"{prepared.checkpoint.keyid[:16]}. Verify with: "
                          f"python -m core.verify_bundle {target}")
