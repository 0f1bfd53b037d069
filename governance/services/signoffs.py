"""Sign-offs: electronic signatures on a version pending approval, and the approval itself."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from core import audit, permissions, throttle
from core.audit import refuse
from core.errors import Conflict, Throttled, ValidationFailed, WrongPassword
from core.models import Role, User
from core.sso.backends import password_sign_in_allowed
from core.sso.reauth import Reauthentication, reauthentication_problem, signs_at_provider
from governance.attestation import with_prepared_documents
from governance.gates import Case, case_for, signoff_counts
from governance.models import Decision, SignOff
from governance.services.common import S, limit_text, require_text
from governance.services.lifecycle import approve_if_ready, version_transition
from registry.models import ModelVersion


def _choose_role(actor: User, case: Case, counts: dict[str, int], role: str) -> str:
    roles = permissions.signing_roles(actor, case)
    if role:
        if role not in roles:
            refuse(actor, f"You cannot sign as {role!r}: the roles you may sign in here are "
                          f"{', '.join(roles)}.", attempted="signoff.record",
                   code=permissions.WRONG_ROLE)
        return role
    open_roles = [r for r in roles if counts.get(r, 0) < case.required_roles[r]]
    return (open_roles or roles)[0]


def _check_password(actor: User, password: str, client_ip: str, version: ModelVersion) -> None:
    """The electronic signature: the signer's own password, under the sign-in throttle."""
    ip = client_ip or "unknown"
    held = throttle.refusal(actor.username, ip)
    if held:
        refuse(actor, f"{held} Wrong passwords when signing count as failed sign-ins, so a "
                      "stolen session or API token cannot be used to guess your password.",
               attempted="signoff.record", target=version, code=permissions.THROTTLED,
               error=Throttled)
    if not actor.check_password(password):
        throttle.failed(actor.username, ip)
        minutes = max(1, settings.LOGIN_THROTTLE_WINDOW_S // 60)
        refuse(actor, "The password is wrong: sign with the password you sign in with. After "
                      f"{settings.LOGIN_FAILURES_PER_ACCOUNT} wrong passwords (here or at sign-in) "
                      f"signing and signing in are paused for {minutes} minutes.",
               attempted="signoff.record", target=version, code=permissions.WRONG_PASSWORD,
               error=WrongPassword)
    throttle.succeeded(actor.username)


def _check_reauthentication(actor: User, proof: Reauthentication | None,
                            version: ModelVersion) -> None:
    """The electronic signature under single sign-on: a fresh sign-in at the identity provider
    by the signer (core.sso.reauth), never skipped."""
    if proof is None:
        refuse(actor, "You sign in with single sign-on, so your signature is a fresh sign-in at "
                      "the identity provider: sign on the version's sign-off page, which sends "
                      "you there. A password cannot sign for you.",
               attempted="signoff.record", target=version, code="reauthentication_required",
               error=WrongPassword)
    problem = reauthentication_problem(actor, proof)
    if problem:
        refuse(actor, problem, attempted="signoff.record", target=version,
               code="reauthentication_refused", error=WrongPassword)


def signoff_prepare(*, actor: User, version: ModelVersion, decision: str, comment: str,
                    role: str = "", conditions: str = "") -> str:
    """Check a sign-off as far as it can be checked before the signature: the decision, comment
    and conditions, the version's state and the signer's right to sign. Returns the role it will
    be recorded in. A page under single sign-on calls it before sending the signer to the
    provider, so that nobody re-authenticates for a sign-off that would be refused anyway."""
    if decision not in Decision.values:
        raise ValidationFailed("Decide 'approve' or 'reject'.", field="decision")
    require_text({"comment": comment}, {"comment": "Comment on your decision."})
    conditions = (conditions or "").strip()
    if conditions and decision == Decision.REJECT:
        raise ValidationFailed("A rejection carries no conditions: say why in the comment.",
                               field="conditions")
    limit_text({"conditions": conditions})
    if version.state != S.PENDING_APPROVAL:
        raise Conflict(f"Only versions pending approval are signed off; version "
                       f"{version.number} is {version.get_state_display().lower()}.")
    case = case_for(version)
    reason = permissions.reason_cannot_sign_off(actor, case)
    if reason:
        refuse(actor, reason, attempted="signoff.record", target=version)
    return _choose_role(actor, case, signoff_counts(version), role)


def signoff_record(*, actor: User, version: ModelVersion, decision: str, comment: str,
                   password: str = "", role: str = "", conditions: str = "",
                   client_ip: str = "", reauthentication: Reauthentication | None = None
                   ) -> SignOff:
    """Sign a version pending approval, with an electronic signature: re-entering one's password,
    or, for people who sign in through single sign-on, ``reauthentication``: a fresh sign-in at
    the identity provider (core.sso.reauth; docs/sso.md).

    A rejection by a required signer rejects the version; the approval completes by itself when
    the quorum is met and nothing blocks. Row locks make concurrent final signatures approve once.

    ``conditions`` (optional) are what the signer attaches to an approval; they are shown with
    the sign-off and listed in the approval attestation. A rejection carries none.

    The password re-entry is throttled with the sign-in throttle (core.throttle, per account and
    per ``client_ip``): a wrong password here counts as a failed sign-in, so a stolen session or
    API token cannot be used to guess the account's password.
    """
    at_provider = signs_at_provider(actor)
    if decision not in Decision.values:
        raise ValidationFailed("Decide 'approve' or 'reject'.", field="decision")
    if not at_provider:
        require_text({"comment": comment, "password": password}, {
            "comment": "Comment on your decision.",
            "password": "Re-enter your password to sign."})
    role = signoff_prepare(actor=actor, version=version, decision=decision, comment=comment,
                           role=role, conditions=conditions)
    conditions = (conditions or "").strip()
    if at_provider:
        _check_reauthentication(actor, reauthentication, version)
    elif not password_sign_in_allowed(actor.username):
        # Single sign-on is on and this local account may not use its password at all.
        refuse(actor, "Password signatures are off with single sign-on: sign in once through the "
                      "identity provider, then sign on the version's sign-off page.",
               attempted="signoff.record", target=version, code="reauthentication_required",
               error=WrongPassword)
    else:
        _check_password(actor, password, client_ip, version)
    signature: dict[str, object] = (
        {"signature": "identity_provider", "auth_time": reauthentication.auth_time}
        if at_provider and reauthentication is not None else {})

    def record() -> tuple[SignOff, str]:
        with transaction.atomic():
            locked = ModelVersion.objects.select_for_update().select_related("model").get(
                pk=version.pk)
            if locked.state != S.PENDING_APPROVAL:
                raise Conflict(f"Version {locked.number} was decided meanwhile: it is "
                               f"{locked.get_state_display().lower()}.")
            case = case_for(locked)
            if actor.pk in case.signer_ids:
                raise Conflict("You have already signed this version.")
            counts = signoff_counts(locked)
            if decision == Decision.APPROVE and counts.get(role, 0) >= case.required_roles[role]:
                raise Conflict(f"The {Role(role).label.lower()} sign-offs this tier needs are "
                               f"all in.")
            # The case's policy and tier are set: they were fixed when the version was submitted.
            signoff = SignOff.objects.create(  # type: ignore[misc]
                version=locked, signer=actor, role=role, decision=decision, comment=comment,
                conditions=conditions, policy_version=case.policy_version, tier=case.tier,
                artifact_sha256=locked.artifact_sha256)
            audit.record(action="signoff.record", actor=actor, obj=signoff, payload={
                "version": locked.number, "role": role, "decision": decision, "comment": comment,
                "conditions": conditions, "policy_version": str(case.policy_version),
                "tier": case.tier, "artifact_sha256": locked.artifact_sha256, **signature})
            if decision == Decision.REJECT:
                version_transition(version=locked, to=S.REJECTED, actor=actor, reason=comment,
                                   details={"signoff_id": signoff.pk, "role": role})
            else:
                approve_if_ready(locked, actor=actor, signoff=signoff)
        return signoff, locked.state

    if decision == Decision.APPROVE and _completes_quorum(version, role):
        # The approval follows: its documents are prepared before the transaction.
        signoff, state = with_prepared_documents(version, actor=actor, call=record)
    else:
        signoff, state = record()
    version.state = state
    return signoff


def _completes_quorum(version: ModelVersion, role: str) -> bool:
    """Whether one more approving sign-off in ``role`` meets every role's quorum (read without
    locks: it only decides whether the approval's documents are prepared beforehand)."""
    case = case_for(version)
    counts = dict(signoff_counts(version))
    counts[role] = counts.get(role, 0) + 1
    return bool(case.required_roles) and all(
        counts.get(r, 0) >= n for r, n in case.required_roles.items())


def version_complete_approval(*, actor: User, version: ModelVersion) -> ModelVersion:
    """Approve a version whose quorum was met while something still blocked, once it no longer
    does (e.g. the failing evidence was re-run)."""
    return with_prepared_documents(version, actor=actor, call=lambda: version_transition(
        version=version, to=S.APPROVED, actor=actor))

