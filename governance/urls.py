from django.urls import path

from governance.views import (
    findings,
    intake,
    lifecycle,
    notifications,
    policies,
    reviews,
    signoffs,
    validation,
    waivers,
    worklists,
)

app_name = "governance"
V = "models/<slug:slug>/versions/<int:number>/"
urlpatterns = [
    path("models/<slug:slug>/intake/", intake.intake, name="intake"),
    path("models/<slug:slug>/intake/score/", intake.intake_score, name="intake-score"),
    path("models/<slug:slug>/intake/override/", intake.override_request,
         name="override-request"),
    path("models/<slug:slug>/intake/override/decide/", intake.override_decide,
         name="override-decide"),
    path(V + "workflow/", lifecycle.workflow, name="workflow"),
    path(V + "workflow/<str:name>/", lifecycle.version_action, name="version-action"),
    path(V + "review/", validation.review, name="review"),
    path(V + "sign/", signoffs.sign, name="sign"),
    path(V + "findings/new/", findings.finding_raise, name="finding-raise"),
    path(V + "waivers/new/", waivers.waiver_grant, name="waiver-grant"),
    path(V + "periodic-review/", reviews.periodic_review, name="periodic-review"),
    path("governance/queue/", worklists.queue, name="queue"),
    path("governance/board/", worklists.board, name="board"),
    path("governance/findings/", findings.finding_list, name="findings"),
    path("governance/findings/<int:pk>/", findings.finding_detail, name="finding"),
    path("governance/findings/<int:pk>/move/", findings.finding_move, name="finding-move"),
    path("governance/findings/<int:pk>/comment/", findings.finding_comment,
         name="finding-comment"),
    path("governance/findings/<int:pk>/attach/", findings.finding_attach, name="finding-attach"),
    path("governance/findings/<int:pk>/attachments/<int:attachment_id>/",
         findings.finding_attachment_download, name="finding-attachment"),
    path("governance/waivers/", waivers.waiver_list, name="waivers"),
    path("governance/waivers/<int:pk>/revoke/", waivers.waiver_revoke, name="waiver-revoke"),
    path("governance/inbox/", notifications.inbox, name="inbox"),
    path("governance/inbox/read/", notifications.inbox_mark_read, name="inbox-read"),
    path("governance/policies/", policies.policies, name="policies"),
    path("governance/policies/<int:pk>/make-current/", policies.policy_make_current,
         name="policy-make-current"),
]
