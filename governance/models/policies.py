"""Governance policies: a named policy and its immutable, numbered versions (the content is
data, read through governance.policy)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from governance.policy import Definition, TierRules
from governance.policy_scope import Scope, best_fit, overlap
from registry.models import RegisteredModel


class Policy(models.Model):
    """A named governance policy (e.g. "SR 11-7"); its content lives in versions."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.name


class PolicyVersionQuerySet(models.QuerySet):
    def current(self) -> PolicyVersion | None:
        """The unscoped current version: the default for models no scoped one covers."""
        return next((pv for pv in self.all_current() if pv.scope.is_default), None)

    def all_current(self) -> list[PolicyVersion]:
        """Every current version (at most one per policy), scoped ones first."""
        return sorted(self.filter(is_current=True).select_related("policy"),
                      key=lambda pv: (-pv.scope.rank, pv.policy.name))

    def current_for(self, model: RegisteredModel,
                    currents: list[PolicyVersion] | None = None) -> PolicyVersion | None:
        """The one answer to "which policy governs this model now?": the current version whose
        scope fits the model's business line and legal entity best (governance.policy_scope),
        None when no current version covers it. Versions already submitted keep the version
        bound at their submission (governance.gates.policy_for). ``currents``: the current
        versions already loaded, when resolving many models."""
        return best_fit(((pv.scope, pv) for pv in (
            self.all_current() if currents is None else currents)),
            model.business_line, model.legal_entity)


class PolicyVersion(models.Model):
    """An immutable version of a policy, scoped to business lines and legal entities or to
    neither. At most one version of each policy is current; a model submitted from now on is
    bound to the current version whose scope fits it best (PolicyVersionQuerySet.current_for).
    Old versions stay, since submitted versions point at them."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    notes = models.TextField(blank=True)
    is_current = models.BooleanField(default=False)
    # The scope, as lists of names (governance.policy_scope); both empty: the default policy.
    business_lines = models.JSONField(default=list, blank=True)
    legal_entities = models.JSONField(default=list, blank=True)
    validated_at = models.DateTimeField(null=True, blank=True)
    made_current_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # Four-eyes: who (not the drafter) made it current; None for the shipped templates.
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    null=True, blank=True, related_name="+")
    # A draft declined by a second person, or withdrawn by its drafter (declined_by is then the
    # drafter): kept for the record, never current. Who, when and why.
    declined_at = models.DateTimeField(null=True, blank=True)
    declined_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    null=True, blank=True, related_name="+")
    decline_reason = models.TextField(blank=True)

    objects = PolicyVersionQuerySet.as_manager()

    class Meta:
        ordering = ["policy__name", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "number"], name="unique_policy_version"),
            models.UniqueConstraint(fields=["policy"], condition=Q(is_current=True),
                                    name="one_current_version_per_policy"),
        ]

    def __str__(self) -> str:
        return f"{self.policy.name} v{self.number}"

    def get_absolute_url(self) -> str:
        return reverse("governance:policy-version", kwargs={"pk": self.pk})

    @property
    def scope(self) -> Scope:
        return Scope(tuple(self.business_lines or ()), tuple(self.legal_entities or ()))

    def replaces(self, currents: list[PolicyVersion]) -> list[PolicyVersion]:
        """The current versions making this one current takes the place of: its own policy's,
        and another policy's whose scope is the same as its own."""
        return [c for c in currents if c.pk != self.pk
                and (c.policy_id == self.policy_id or c.scope.same_as(self.scope))]

    def scope_conflicts(self, currents: list[PolicyVersion]) -> list[str]:
        """Why this version cannot become current beside the others (empty: it can): a current
        version of another policy whose scope overlaps its own at the same rank would leave the
        models in both to chance."""
        replaced = {c.pk for c in self.replaces(currents)}
        return [f"{c} already governs {', '.join(shared)}"
                for c in currents if c.pk != self.pk and c.pk not in replaced
                for shared in [overlap(self.scope, c.scope)] if shared]

    @property
    def rules(self) -> Definition:
        return Definition(self.definition)

    def tier_rules(self, tier: int) -> TierRules:
        return self.rules.tier_rules(tier)

    @property
    def is_draft(self) -> bool:
        """Drafted, never current and not declined: it waits for a second person's approval."""
        return self.made_current_at is None and self.declined_at is None

    @property
    def is_declined(self) -> bool:
        """Declined by a second person or withdrawn by its drafter: it never becomes current."""
        return self.declined_at is not None

    @property
    def is_withdrawn(self) -> bool:
        """Declined by its own drafter."""
        return self.is_declined and self.declined_by_id == self.created_by_id
