from django.urls import path

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
    path("governance/queue/", views.queue, name="queue"),
    path("governance/policies/", views.policies, name="policies"),
    path("governance/policies/<int:pk>/make-current/", views.policy_make_current,
         name="policy-make-current"),
]
