from django.urls import path
from rest_framework.routers import SimpleRouter

from governance.api import oversight, views

router = SimpleRouter()
router.register("policy-versions", views.PolicyVersionViewSet, basename="policy-version")
router.register("intakes", views.IntakeViewSet, basename="intake")
router.register("versions", views.VersionGovernanceViewSet, basename="version-governance")
router.register("validation-queue", views.ValidationQueueViewSet, basename="validation-queue")
router.register("findings", oversight.FindingViewSet, basename="finding")
router.register("waivers", oversight.WaiverViewSet, basename="waiver")
router.register("periodic-reviews", oversight.PeriodicReviewViewSet, basename="periodic-review")
router.register("notifications", oversight.NotificationViewSet, basename="notification")

urlpatterns = [
    path("governance/my-work/", oversight.MyWorkView.as_view(), name="governance-my-work"),
    path("governance/board/", oversight.BoardView.as_view(), name="governance-board"),
    *router.urls,
]
