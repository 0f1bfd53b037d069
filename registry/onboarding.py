"""Bulk onboarding of an existing inventory: the CSV columns of the model fields, reading and
checking a file row by row (every problem named by line and column, nothing written), creating
the checked models, and writing the same columns back out (the export).

Governance adds its own columns (the risk tier) and runs the import as one audited transaction
(governance.services.onboarding); this module knows only the registry's fields.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.text import slugify

from core import audit, permissions
from core.models import Team, User
from registry.models import DecisionType, RegisteredModel, Sourcing, Task
from registry.services import (
    SLUG_RE,
    TAGS_MAX,
    _set_tags,
    _validate_model_fields,
)

LIST_SEPARATOR = ";"
MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Column:
    """One column of the inventory CSV: its header, whether a row must fill it, and what it
    holds (the documentation the import page and docs/inventory-import.md show)."""

    name: str
    required: bool
    help: str


def _choices(values: Iterable[str]) -> str:
    return ", ".join(values)


COLUMNS: tuple[Column, ...] = (
    Column("name", True, "The model's name, unique in the inventory."),
    Column("slug", False, "Its identifier in addresses (lowercase letters, digits, hyphens); "
                          "made from the name when empty."),
    Column("team", True, "The slug of the team that develops it."),
    Column("owner", True, "The username of its owner (who answers for it)."),
    Column("purpose", True, "What it is for: the decision it informs and how."),
    Column("business_line", False, "The business line that uses it."),
    Column("decision_type", True, f"One of: {_choices(DecisionType.values)}."),
    Column("task", True, f"One of: {_choices(Task.values)}."),
    Column("sourcing", False, f"One of: {_choices(Sourcing.values)} (default in_house)."),
    Column("vendor_name", False, "The vendor, for a vendor model (then required)."),
    Column("intended_use", False, "Its intended use."),
    Column("intended_users", False, "Who is meant to use it."),
    Column("restrictions", False, "Restrictions on its use."),
    Column("known_limitations", False, "Its known limitations."),
    Column("developers", False, "Usernames of its developers (data scientists of its team), "
                                "separated by ';'."),
    Column("upstream_models", False, "Slugs of models it depends on, separated by ';' (in the "
                                     "inventory or in this file)."),
    Column("data_sources", False, "Its data sources, separated by ';'."),
    Column("tags", False, "Tags, separated by ';'."),
)
TEXT_COLUMNS = ("purpose", "business_line", "vendor_name", "intended_use", "intended_users",
                "restrictions", "known_limitations")


@dataclass(frozen=True)
class RowError:
    """A problem with one cell (``column``) of one row (``line``: the line in the file, the
    header being line 1), or with the file as a whole (line 0)."""

    line: int
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "message": self.message}


@dataclass
class ModelRow:
    """One row read and checked: the model's fields, its people and links resolved."""

    line: int
    values: dict[str, str]
    slug: str = ""
    team: Team | None = None
    owner: User | None = None
    developers: list[User] = field(default_factory=list)
    upstream: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(LIST_SEPARATOR) if part.strip()]


def read_csv(data: bytes, *, columns: Iterable[Column]) -> tuple[list[dict[str, str]],
                                                                  list[RowError]]:
    """The rows of a CSV file (UTF-8, a header line naming the columns), or what is wrong with
    the file as a whole: not UTF-8 text, too large, an unknown or missing column."""
    columns = list(columns)
    if len(data) > MAX_BYTES:
        return [], [RowError(0, "", f"The file is larger than {MAX_BYTES // 1024 // 1024} MB; "
                                    "split it into several imports.")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [RowError(0, "", "The file is not UTF-8 text: save it as 'CSV UTF-8'.")]
    if "\x00" in text:
        return [], [RowError(0, "", "The file holds a NUL character (\\u0000): it is not a "
                                    "text CSV; export it again as 'CSV UTF-8'.")]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        return [], [RowError(0, "", "The file is empty: the first line must name the columns, "
                                    f"e.g. {','.join(c.name for c in columns if c.required)}.")]
    known = {c.name for c in columns}
    errors = [RowError(1, h, f"Unknown column {h!r}; the columns are "
                             f"{', '.join(c.name for c in columns)}.")
              for h in header if h not in known]
    duplicated = sorted({h for h in header if header.count(h) > 1})
    errors += [RowError(1, h, f"The column {h!r} appears twice.") for h in duplicated]
    errors += [RowError(1, c.name, f"The required column {c.name!r} is missing.")
               for c in columns if c.required and c.name not in header]
    if errors:
        return [], errors
    reader.fieldnames = header
    rows = []
    for index, raw in enumerate(reader):
        if index >= MAX_ROWS:
            return [], [RowError(0, "", f"More than {MAX_ROWS} rows; split the file.")]
        if None in raw:
            errors.append(RowError(reader.line_num, "", "More cells than columns: quote "
                                                        "values that contain commas."))
            continue
        values = {k: (v or "").strip() for k, v in raw.items()}
        if any(values.values()):
            rows.append({"__line__": str(reader.line_num), **values})
    if not rows and not errors:
        errors.append(RowError(0, "", "The file has a header but no rows."))
    return rows, errors


def check_rows(rows: list[dict[str, str]]) -> tuple[list[ModelRow], list[RowError]]:
    """Each row's model fields checked and its team, owner, developers and upstream models
    resolved; every problem by line and column. Nothing is written."""
    errors: list[RowError] = []
    teams = {t.slug: t for t in Team.objects.all()}
    usernames = {v for r in rows for v in [r.get("owner", ""), *_split(r.get("developers", ""))]}
    users = {u.username: u for u in User.objects.filter(username__in=usernames)}
    slugs_in_file: dict[str, int] = {}
    names_in_file: dict[str, int] = {}
    checked = []
    for raw in rows:
        line = int(raw["__line__"])
        row = ModelRow(line=line, values=raw)

        def err(column: str, message: str, line: int = line) -> None:
            errors.append(RowError(line, column, message))

        data: dict[str, Any] = {k: raw.get(k, "") for k in ("name", "decision_type", "task",
                                                            *TEXT_COLUMNS)}
        data["sourcing"] = raw.get("sourcing") or Sourcing.IN_HOUSE
        data["data_sources"] = "\n".join(_split(raw.get("data_sources", "")))
        for column, messages in _validate_model_fields(data, creating=True).items():
            for message in messages:
                err(column, message)
        row.fields = {k: v for k, v in data.items() if k != "name"}
        name = raw.get("name", "")
        row.slug = (raw.get("slug") or slugify(name))[:100]
        if name and not SLUG_RE.match(row.slug):
            err("slug", "Use lowercase letters, digits and single hyphens, e.g. "
                        "'retail-credit-scorecard'.")
        if row.slug in slugs_in_file:
            err("slug", f"The slug {row.slug!r} is also on line {slugs_in_file[row.slug]}; "
                        "give each model its own.")
        slugs_in_file.setdefault(row.slug, line)
        if name.casefold() in names_in_file:
            err("name", f"The name {name!r} is also on line {names_in_file[name.casefold()]}.")
        names_in_file.setdefault(name.casefold(), line)
        team_slug = raw.get("team", "")
        row.team = teams.get(team_slug)
        if row.team is None:
            err("team", f"No team {team_slug!r}; use a team's slug: "
                        f"{', '.join(sorted(teams)) or 'an administrator creates teams first'}."
                if team_slug else "Name the team (its slug).")
        owner = raw.get("owner", "")
        row.owner = users.get(owner)
        if row.owner is None or not row.owner.is_active:
            err("owner", f"No active user {owner!r}; the owner is a username of an active "
                         "user." if owner else "Name the owner (a username).")
        for username in _split(raw.get("developers", "")):
            person = users.get(username)
            if person is None or not person.is_active:
                err("developers", f"No active user {username!r}.")
            elif row.team is not None and not _may_develop(person, row.team):
                err("developers", f"{username} is not a data scientist of the team "
                                  f"{row.team.slug}, so cannot develop its models.")
            else:
                row.developers.append(person)
        row.upstream = _split(raw.get("upstream_models", ""))
        row.tags = _split(raw.get("tags", ""))
        if len(row.tags) > TAGS_MAX:
            err("tags", f"{len(row.tags)} tags; a model takes at most {TAGS_MAX}.")
        checked.append(row)
    taken_slugs = set(RegisteredModel.objects.filter(slug__in=slugs_in_file)
                      .values_list("slug", flat=True))
    taken_names = {n.casefold() for n in RegisteredModel.objects.filter(
        name__in=[r.get("name", "") for r in rows]).values_list("name", flat=True)}
    existing_upstream = set(RegisteredModel.objects.filter(
        slug__in={s for r in checked for s in r.upstream}).values_list("slug", flat=True))
    for row in checked:
        if row.slug in taken_slugs:
            errors.append(RowError(row.line, "slug", f"A model with the slug {row.slug!r} is "
                                                     "already in the inventory."))
        if row.values.get("name", "").casefold() in taken_names:
            errors.append(RowError(row.line, "name", f"A model named {row.values['name']!r} is "
                                                     "already in the inventory."))
        for slug in row.upstream:
            if slug == row.slug:
                errors.append(RowError(row.line, "upstream_models",
                                       "A model cannot depend on itself."))
            elif slug not in existing_upstream and slug not in slugs_in_file:
                errors.append(RowError(row.line, "upstream_models",
                                       f"No model with the slug {slug!r} in the inventory or "
                                       "in this file."))
    return checked, sorted(errors, key=lambda e: (e.line, e.column))


def _may_develop(person: User, team: Team) -> bool:
    return permissions.can_develop(person, team.pk)


def models_create(*, actor: User, rows: list[ModelRow]) -> list[RegisteredModel]:
    """Create the checked rows' models, each audited as a model created by import (inside the
    caller's transaction; check_rows found nothing wrong)."""
    now = timezone.now()
    created: dict[str, RegisteredModel] = {}
    for row in rows:
        assert row.team is not None and row.owner is not None  # noqa: S101 (checked rows)
        model = RegisteredModel.objects.create(
            slug=row.slug, team=row.team, owner=row.owner, created_by=actor, created_at=now,
            updated_at=now, name=row.values["name"], **row.fields)
        model.developers.set(row.developers)
        created[row.slug] = model
    for row in rows:
        model = created[row.slug]
        upstream = [created.get(s) or RegisteredModel.objects.get(slug=s) for s in row.upstream]
        model.upstream_models.set(upstream)
        tags = _set_tags(model, row.tags)
        audit.record(action="model.create", actor=actor, obj=model, payload={
            "name": model.name, **row.fields, "slug": model.slug, "team": model.team.slug,
            "owner": model.owner.username,
            "developers": sorted(u.username for u in row.developers),
            "upstream_models": sorted(row.upstream), "tags": tags,
            "imported_from_line": row.line})
    return list(created.values())


def model_row(model: RegisteredModel) -> dict[str, str]:
    """A model's registry columns as the export writes them (the import reads them back)."""
    return {
        "name": model.name, "slug": model.slug, "team": model.team.slug,
        "owner": model.owner.username, "purpose": model.purpose,
        "business_line": model.business_line, "decision_type": model.decision_type,
        "task": model.task, "sourcing": model.sourcing, "vendor_name": model.vendor_name,
        "intended_use": model.intended_use, "intended_users": model.intended_users,
        "restrictions": model.restrictions, "known_limitations": model.known_limitations,
        "developers": LIST_SEPARATOR.join(sorted(u.username for u in model.developers.all())),
        "upstream_models": LIST_SEPARATOR.join(sorted(m.slug for m in
                                                      model.upstream_models.all())),
        "data_sources": LIST_SEPARATOR.join(line.strip() for line in
                                            model.data_sources.splitlines() if line.strip()),
        "tags": LIST_SEPARATOR.join(sorted(t.name for t in model.tags.all())),
    }


def write_csv(rows: Iterable[dict[str, str]], *, columns: Iterable[Column]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[c.name for c in columns], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
