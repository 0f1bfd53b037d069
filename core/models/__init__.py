from core.models.accounts import ApiToken, Role, RoleGrant, Team, User
from core.models.audit import AuditEvent

__all__ = ["ApiToken", "AuditEvent", "Role", "RoleGrant", "Team", "User"]
