"""Writes of governance part 1, one module per subject: policies, intake and tier, the version
lifecycle, independent validation, sign-offs and evidence. (Findings, waivers and periodic review
live in governance.findings and governance.reviews.)

Callers import from here (``from governance import services``); the names below are the public
services. Permission refusals are recorded with ``core.audit.record_security`` before any
transaction of the service opens, so they stay in the trail although the request fails
(``Refused``).
"""

from core.errors import Refused
from governance.gates import case_for
from governance.services.evidence import evidence_record, finding_raise_from_check
from governance.services.intake import (
    intake_record,
    tier_override_decide,
    tier_override_request,
)
from governance.services.lifecycle import (
    TRANSITIONS,
    next_states,
    review_due_after,
    version_submit,
    version_transition,
)
from governance.services.policies import (
    current_policy,
    ensure_policy_templates,
    policy_version_create,
    policy_version_make_current,
)
from governance.services.signoffs import signoff_record, version_complete_approval
from governance.services.validation import review_conclude, validator_assign

__all__ = [
    "TRANSITIONS",
    "Refused",
    "case_for",
    "current_policy",
    "ensure_policy_templates",
    "evidence_record",
    "finding_raise_from_check",
    "intake_record",
    "next_states",
    "policy_version_create",
    "policy_version_make_current",
    "review_conclude",
    "review_due_after",
    "signoff_record",
    "tier_override_decide",
    "tier_override_request",
    "validator_assign",
    "version_complete_approval",
    "version_submit",
    "version_transition",
]
