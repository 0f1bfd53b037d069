"""Governance records, one module per subject (the same names as governance.services).

Writes go through governance.services; rules about one row live on the models as methods.
"""

from governance.models.attestations import IndependenceAttestation, OwnerAttestation
from governance.models.evidence import Evidence, EvidenceOrigin, EvidenceStatus
from governance.models.findings import (
    UNRESOLVED,
    CommentKind,
    Finding,
    FindingAttachment,
    FindingComment,
    FindingSource,
    FindingStatus,
    Severity,
)
from governance.models.intake import ModelIntake, OverrideStatus, TierOverride
from governance.models.lifecycle import (
    CLOSED,
    DECIDED,
    IN_FLIGHT,
    VersionGovernance,
    workflow_url,
)
from governance.models.notifications import (
    Notification,
    NotificationKind,
    NotificationPreference,
)
from governance.models.policies import Policy, PolicyVersion
from governance.models.reviews import PeriodicReview, ReviewConclusion
from governance.models.signoffs import Decision, SignOff
from governance.models.validation import Conclusion, ValidationReview
from governance.models.waivers import Waiver, WaiverStatus

__all__ = [
    "CLOSED",
    "DECIDED",
    "IN_FLIGHT",
    "UNRESOLVED",
    "CommentKind",
    "Conclusion",
    "Decision",
    "Evidence",
    "EvidenceOrigin",
    "EvidenceStatus",
    "Finding",
    "FindingAttachment",
    "FindingComment",
    "FindingSource",
    "FindingStatus",
    "IndependenceAttestation",
    "ModelIntake",
    "Notification",
    "NotificationKind",
    "NotificationPreference",
    "OverrideStatus",
    "OwnerAttestation",
    "PeriodicReview",
    "Policy",
    "PolicyVersion",
    "ReviewConclusion",
    "Severity",
    "SignOff",
    "TierOverride",
    "ValidationReview",
    "VersionGovernance",
    "Waiver",
    "WaiverStatus",
    "workflow_url",
]
