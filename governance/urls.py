from django.urls import path

from governance import oversight_views as oversight
from governance import views

app_name = "governance"
V = "models/<slug:slug>/versions/<int:number>/"
urlpatterns = [
    path("models/<slug:slug>/intake/", views.intake, name="intake"),
    path("models/<slug:slug>/intake/score/", views.intake_score, name="intake-score"),
    path("models/<slug:slug>/intake/override/", views.override_request, name="override-request"),
    path("models/<slug:slug>/intake/override/decide/", views.override_decide,
         name="override-decide"),
    path(V + "workflow/", views.workflow, name="workflow"),
    path(V + "workflow/<str:name>/", views.version_action, name="version-action"),
    path(V + "review/", views.review, name="review"),
    path(V + "sign/", views.sign, name="sign"),
    path(V + "findings/new/", oversight.finding_raise, name="finding-raise"),
    path(V + "waivers/new/", oversight.waiver_grant, name="waiver-grant"),
    path(V + "periodic-review/", oversight.periodic_review, name="periodic-review"),
    path("governance/queue/", views.queue, name="queue"),
    path("governance/board/", oversight.board, name="board"),
    path("governance/findings/", oversight.finding_list, name="findings"),
    path("governance/findings/<int:pk>/", oversight.finding_detail, name="finding"),
    path("governance/findings/<int:pk>/move/", oversight.finding_move, name="finding-move"),
    path("governance/findings/<int:pk>/comment/", oversight.finding_comment,
         name="finding-comment"),
    path("governance/findings/<int:pk>/attach/", oversight.finding_attach, name="finding-attach"),
    path("governance/findings/<int:pk>/attachments/<int:attachment_id>/",
         oversight.finding_attachment_download, name="finding-attachment"),
    path("governance/waivers/", oversight.waiver_list, name="waivers"),
    path("governance/waivers/<int:pk>/revoke/", oversight.waiver_revoke, name="waiver-revoke"),
    path("governance/inbox/", oversight.inbox, name="inbox"),
    path("governance/inbox/read/", oversight.inbox_mark_read, name="inbox-read"),
    path("governance/policies/", views.policies, name="policies"),
    path("governance/policies/<int:pk>/make-current/", views.policy_make_current,
         name="policy-make-current"),
]
