"""Which models a current policy governs: its scope (no Django here).

A policy version is scoped to business lines, legal entities, both, or neither. Several versions
(of different policies) may be current at once; a model takes the one whose scope fits it best:

1. a scope naming both the model's legal entity and its business line;
2. else one naming its legal entity (the entity's regulator sets the rules, whatever the line);
3. else one naming its business line;
4. else the unscoped current policy, the default for everything else.

Two current scopes of the same rank that share a model would leave that model's policy to chance,
so making a version current is refused when its scope overlaps another of the same rank
(``overlap``). Names compare without regard to case or surrounding spaces, as the inventory's
business-line filter does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

NAME_MAX = 100  # as RegisteredModel.business_line and legal_entity
SCOPE_MAX = 50  # names per list: a scope is a few lines or entities, not an inventory


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class Scope:
    """The business lines and legal entities a policy version governs (empty: any)."""

    business_lines: tuple[str, ...] = ()
    legal_entities: tuple[str, ...] = ()

    @property
    def rank(self) -> int:
        """How specific the scope is: 3 both, 2 legal entity, 1 business line, 0 unscoped."""
        return (2 if self.legal_entities else 0) + (1 if self.business_lines else 0)

    @property
    def is_default(self) -> bool:
        return self.rank == 0

    def _lines(self) -> frozenset[str]:
        return frozenset(_key(n) for n in self.business_lines)

    def _entities(self) -> frozenset[str]:
        return frozenset(_key(n) for n in self.legal_entities)

    def covers(self, business_line: str, legal_entity: str) -> bool:
        """Whether a model of this business line and legal entity falls in the scope."""
        return ((not self.business_lines or _key(business_line) in self._lines())
                and (not self.legal_entities or _key(legal_entity) in self._entities()))

    def same_as(self, other: Scope) -> bool:
        return self._lines() == other._lines() and self._entities() == other._entities()

    def describe(self) -> str:
        """The scope in words: "business lines Retail, Cards; legal entity Assay Bank UK"."""
        if self.is_default:
            return "every model no other current policy covers (the default)"
        parts = []
        if self.business_lines:
            parts.append(("business line " if len(self.business_lines) == 1 else
                          "business lines ") + ", ".join(self.business_lines))
        if self.legal_entities:
            parts.append(("legal entity " if len(self.legal_entities) == 1 else
                          "legal entities ") + ", ".join(self.legal_entities))
        return "; ".join(parts)


def overlap(a: Scope, b: Scope) -> list[str]:
    """What two scopes of the same rank have in common (empty: they never govern the same model,
    or one is more specific and so wins). Identical scopes overlap entirely."""
    if a.rank != b.rank:
        return []
    if a.is_default:
        return ["every model"]
    lines = [n for n in a.business_lines if _key(n) in b._lines()]
    entities = [n for n in a.legal_entities if _key(n) in b._entities()]
    if (a.business_lines and not lines) or (a.legal_entities and not entities):
        return []
    return [f"business line {n}" for n in lines] + [f"legal entity {n}" for n in entities]


def best_fit(candidates: Iterable[tuple[Scope, Any]], business_line: str,
             legal_entity: str) -> Any | None:
    """The item whose scope fits the model best (the highest rank that covers it), or None when
    no scope covers it. Scopes of one rank never overlap (``overlap``), so the best is unique."""
    fitting = [(scope.rank, item) for scope, item in candidates
               if scope.covers(business_line, legal_entity)]
    return max(fitting, key=lambda pair: pair[0])[1] if fitting else None


def scope_errors(value: Any, what: str) -> tuple[list[str], list[str]]:
    """The names a scope list holds, tidied (spaces collapsed, duplicates dropped), and what is
    wrong with it: ``what`` is "business lines" or "legal entities"."""
    if value in (None, ""):
        return [], []
    if isinstance(value, str):
        value = [part for line in value.splitlines() for part in line.split(",")]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [], [f"List the {what} as names (text), one a line or separated by commas."]
    names: list[str] = []
    errors: list[str] = []
    for raw in value:
        name = " ".join(raw.split())
        if not name or _key(name) in {_key(n) for n in names}:
            continue
        if len(name) > NAME_MAX:
            errors.append(f"{name[:40]}…: {what} are named in at most {NAME_MAX} characters.")
        names.append(name)
    if len(names) > SCOPE_MAX:
        errors.append(f"Name at most {SCOPE_MAX} {what}; an unscoped policy covers the rest.")
    return names, errors
