from core.models.accounts import ApiToken, Role, RoleGrant, Team, User
from core.models.audit import AuditEvent, Verification, VerificationStatus
from core.models.periodic import PeriodicRun
from core.models.signing import Checkpoint, KeyPurpose, SigningKey

__all__ = ["ApiToken", "AuditEvent", "Checkpoint", "KeyPurpose", "PeriodicRun", "Role", "RoleGrant",
           "SigningKey", "Team", "User", "Verification", "VerificationStatus"]
