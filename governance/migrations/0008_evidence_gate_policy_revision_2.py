"""Evidence that decides (issue 12).

1. A check that fails again after its finding was closed raises a new finding: the unique
   constraint on (version, source_key) leaves closed findings out.
2. Revision 2 of the shipped policy templates (SR 11-7, SR 26-2: required evidence and thresholds
   per tier) is installed on existing installations as a new version of each template's policy.
   Nothing already stored changes: submitted versions stay bound to the policy version they were
   submitted under. The new revision becomes current only where an older revision of the same
   template is current (the installation runs the shipped template unchanged); an installation
   that made its own policy current keeps it. A fresh database has no policies yet: the
   ``load_policy_templates`` command installs every revision there.

The events go into the audit trail through ``core.audit.record`` (the live audit model), so this
migration runs after core's latest migration at the time of writing.
"""

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

REVISION = 2


def install_revision_2(apps, schema_editor) -> None:
    from core import audit
    from governance.policy import SHIPPED, shipped_revision

    Policy = apps.get_model("governance", "Policy")
    PolicyVersion = apps.get_model("governance", "PolicyVersion")
    for slug, template in SHIPPED.items():
        policy = Policy.objects.select_for_update().filter(slug=slug).first()
        if policy is None:
            continue
        have = [pv.definition for pv in PolicyVersion.objects.filter(policy=policy)]
        for revision, definition in enumerate(template.revisions[:REVISION], 1):
            if definition in have:
                continue
            number = (PolicyVersion.objects.filter(policy=policy)
                      .aggregate(n=models.Max("number"))["n"] or 0) + 1
            pv = PolicyVersion.objects.create(
                policy=policy, number=number, definition=definition,
                notes=f"Template shipped with Assay, revision {revision}.",
                validated_at=timezone.now())
            audit.record(action="policy.version_create", obj=pv, payload={
                "policy": slug, "number": number, "revision": revision,
                "definition": definition})
    current = PolicyVersion.objects.select_for_update().filter(is_current=True).first()
    if current is None:
        return
    slug = Policy.objects.get(pk=current.policy_id).slug
    if shipped_revision(slug, current.definition) in (None, REVISION):
        return
    target = SHIPPED[slug].revisions[REVISION - 1]
    pv = next(v for v in PolicyVersion.objects.filter(policy__slug=slug).order_by("-number")
              if v.definition == target)
    current.is_current = False
    current.save(update_fields=["is_current"])
    pv.is_current = True
    pv.made_current_at = timezone.now()
    pv.save(update_fields=["is_current", "made_current_at"])
    audit.record(action="policy.make_current", obj=pv, payload={
        "policy": slug, "number": pv.number, "previous": f"{current.policy.name} v{current.number}",
        "reason": f"Revision {REVISION} of the shipped template replaces revision "
                  f"{shipped_revision(slug, current.definition)}."})


class Migration(migrations.Migration):

    dependencies = [
        ('governance', '0007_evidence_bound_to_digests'),
        ('registry', '0002_version_number_counter'),
        ('core', '0004_audit_chain_guard'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='finding',
            name='one_finding_per_source_key',
        ),
        migrations.AddConstraint(
            model_name='finding',
            constraint=models.UniqueConstraint(condition=models.Q(models.Q(('source_key', ''), _negated=True), models.Q(('status', 'closed'), _negated=True)), fields=('version', 'source_key'), name='one_unclosed_finding_per_source_key'),
        ),
        migrations.RunPython(install_revision_2, migrations.RunPython.noop, elidable=False),
    ]
