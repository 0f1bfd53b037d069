"""The model page's governance tabs (core.pages.Tab, added in GovernanceConfig.ready): the
findings of its versions, and each submitted version's review and sign-offs. Each reads only
what the person may see, and names the action the person may take next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from core import pages, permissions
from core.models import Role
from governance.gates import case_for, governance_of
from governance.models import Finding, SignOff, ValidationReview, VersionGovernance
from governance.models.lifecycle import CLOSED
from registry.models import ModelVersion, RegisteredModel, VersionState
from registry.tabs import MODEL_PAGE


def _findings(request: HttpRequest, model: RegisteredModel) -> dict[str, Any]:
    findings = (Finding.objects.visible_to(request.user).filter(version__model=model).listed()
                .order_by("resolved_at", "due_date", "pk"))
    # Validators and risk officers independent of a version raise findings on it (on any
    # version still open: a rejected or retired one is no longer examined).
    open_versions = model.versions.exclude(state__in=CLOSED).order_by("-number")
    user = request.user
    may_raise = permissions.is_authenticated(user) and user.has_role(Role.VALIDATOR,
                                                                      Role.RISK_OFFICER)
    return {
        "findings": list(findings),
        "raise_on": [v for v in open_versions if may_raise
                     and not permissions.reason_cannot_raise_finding(user, case_for(v))],
    }


@dataclass(frozen=True)
class Quorum:
    """How many approvals of one role a version needs, and how many it has."""

    role: str
    needed: int
    approvals: int

    @property
    def met(self) -> bool:
        return self.approvals >= self.needed


@dataclass(frozen=True)
class VersionReview:
    """One submitted version's validation and sign-offs, as the review tab shows them."""

    version: ModelVersion
    governance: VersionGovernance | None
    review: ValidationReview | None
    signoffs: list[SignOff]
    quorum: list[Quorum]
    may_review: bool
    may_sign: bool


def _review(request: HttpRequest, model: RegisteredModel) -> dict[str, Any]:
    reviews = []
    for version in model.versions.filter(governance__isnull=False).order_by("-number"):
        case = case_for(version)
        signoffs = list(version.signoffs.standing().select_related("signer"))
        needed = case.rules.signoffs if case.rules else {}
        reviews.append(VersionReview(
            version=version, governance=governance_of(version),
            review=ValidationReview.objects.filter(version=version)
            .select_related("validator").first(),
            signoffs=signoffs,
            quorum=[Quorum(role, n, sum(1 for s in signoffs
                                        if s.role == role and s.decision == "approve"))
                    for role, n in needed.items()],
            may_review=(version.state == VersionState.IN_VALIDATION
                        and permissions.can_review(request.user, case)),
            may_sign=(version.state == VersionState.PENDING_APPROVAL
                      and permissions.can_sign_off(request.user, case)),
        ))
    return {"reviews": reviews}


def register() -> None:
    pages.add_tab(MODEL_PAGE, pages.Tab("findings", "Findings",
                                        "governance/_model_findings_tab.html", _findings,
                                        order=30))
    pages.add_tab(MODEL_PAGE, pages.Tab("review", "Review and sign-offs",
                                        "governance/_model_review_tab.html", _review, order=40))
