"""Governance writes, one module per subject: policies, intake (and tier overrides), the version
lifecycle, validation, sign-offs, evidence, findings, waivers, periodic reviews and notifications.

Callers outside this package import the services from here (``from governance import
services``; ``services.waiver_grant(...)``); the modules of this package import each other's
public names directly. Permission refusals are recorded with ``core.audit.record_security``
before any transaction of the service opens, so they stay in the trail although the request
fails (``Refused``).
"""

from core.errors import Refused
from governance.services.attestations import (
    INDEPENDENCE_STATEMENT,
    attestation_standing,
    attestation_standings,
    attestations_scan,
    independence_attest,
    owner_attestation_record,
)
from governance.services.dependencies import upstream_change_flag, upstream_impact
from governance.services.evidence import evidence_record
from governance.services.findings import (
    FINDING_TRANSITIONS,
    comment_to_reply_to,
    finding_attach,
    finding_classify,
    finding_comment_add,
    finding_raise,
    finding_raise_from_check,
    finding_raise_from_monitoring,
    finding_transition,
    findings_notify_due,
)
from governance.services.intake import (
    intake_record,
    tier_override_decide,
    tier_override_request,
)
from governance.services.lifecycle import (
    ACTION_TARGETS,
    TRANSITIONS,
    available_actions,
    on_version_transition,
    version_submit,
    version_transition,
)
from governance.services.materiality import change_definitions, version_classify_change
from governance.services.notifications import (
    notification_mark_read,
    notification_mark_read_about,
    notify,
    preferences_of,
    preferences_update,
)
from governance.services.onboarding import (
    ImportReport,
    inventory_csv,
    inventory_export,
    inventory_import,
)
from governance.services.policies import (
    current_policy,
    ensure_policy_templates,
    policy_version_create,
    policy_version_decline,
    policy_version_make_current,
)
from governance.services.policy_reviews import (
    ReviewMove,
    moves_fingerprint,
    policy_reviews_reschedule,
    review_moves,
)
from governance.services.reviews import (
    periodic_review_conclude,
    reviews_scan,
    version_require_revalidation,
)
from governance.services.signatures import (
    Resigned,
    approval_sign,
    approvals_resign,
    signing_key_revoke,
)
from governance.services.signoffs import (
    signoff_prepare,
    signoff_record,
    version_complete_approval,
)
from governance.services.tools import (
    TOOL_EDITORS,
    tool_counts,
    tool_criticality_change,
    tool_register,
    tool_review,
    tool_rules_of,
    tools_scan,
)
from governance.services.use_cases import use_case_add, use_case_remove
from governance.services.validation import review_conclude, validator_assign
from governance.services.vendor import (
    diligence_answer,
    diligence_review,
    vendor_release_record,
)
from governance.services.waivers import (
    waiver_grant,
    waiver_revoke,
    waivers_expire,
    waivers_notify_expiring,
)

__all__ = [
    "ACTION_TARGETS",
    "FINDING_TRANSITIONS",
    "INDEPENDENCE_STATEMENT",
    "TOOL_EDITORS",
    "TRANSITIONS",
    "ImportReport",
    "Refused",
    "Resigned",
    "ReviewMove",
    "approval_sign",
    "approvals_resign",
    "attestation_standing",
    "attestation_standings",
    "attestations_scan",
    "available_actions",
    "change_definitions",
    "comment_to_reply_to",
    "current_policy",
    "diligence_answer",
    "diligence_review",
    "ensure_policy_templates",
    "evidence_record",
    "finding_attach",
    "finding_classify",
    "finding_comment_add",
    "finding_raise",
    "finding_raise_from_check",
    "finding_raise_from_monitoring",
    "finding_transition",
    "findings_notify_due",
    "independence_attest",
    "intake_record",
    "inventory_csv",
    "inventory_export",
    "inventory_import",
    "moves_fingerprint",
    "notification_mark_read",
    "notification_mark_read_about",
    "notify",
    "on_version_transition",
    "owner_attestation_record",
    "periodic_review_conclude",
    "policy_reviews_reschedule",
    "policy_version_create",
    "policy_version_decline",
    "policy_version_make_current",
    "preferences_of",
    "preferences_update",
    "review_conclude",
    "review_moves",
    "reviews_scan",
    "signing_key_revoke",
    "signoff_prepare",
    "signoff_record",
    "tier_override_decide",
    "tier_override_request",
    "tool_counts",
    "tool_criticality_change",
    "tool_register",
    "tool_review",
    "tool_rules_of",
    "tools_scan",
    "upstream_change_flag",
    "upstream_impact",
    "use_case_add",
    "use_case_remove",
    "validator_assign",
    "vendor_release_record",
    "version_classify_change",
    "version_complete_approval",
    "version_require_revalidation",
    "version_submit",
    "version_transition",
    "waiver_grant",
    "waiver_revoke",
    "waivers_expire",
    "waivers_notify_expiring",
]
