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
    FindingCategory,
    FindingComment,
    FindingSource,
    FindingStatus,
    RootCause,
    Severity,
    SR117Area,
)
from governance.models.intake import ModelIntake, OverrideStatus, TierOverride, UseCase
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
from governance.models.tools import Tool, ToolCriticality, ToolKind, ToolReview
from governance.models.validation import Conclusion, ValidationReview
from governance.models.vendor import DiligenceAnswer, DiligenceReview, VendorRelease
from governance.models.waivers import Waiver, WaiverStatus

__all__ = [
    "CLOSED",
    "DECIDED",
    "IN_FLIGHT",
    "UNRESOLVED",
    "CommentKind",
    "Conclusion",
    "Decision",
    "DiligenceAnswer",
    "DiligenceReview",
    "Evidence",
    "EvidenceOrigin",
    "EvidenceStatus",
    "Finding",
    "FindingAttachment",
    "FindingCategory",
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
    "RootCause",
    "SR117Area",
    "Severity",
    "SignOff",
    "TierOverride",
    "Tool",
    "ToolCriticality",
    "ToolKind",
    "ToolReview",
    "UseCase",
    "ValidationReview",
    "VendorRelease",
    "VersionGovernance",
    "Waiver",
    "WaiverStatus",
    "workflow_url",
]
