from django.urls import path
from rest_framework.routers import SimpleRouter

from governance.api import (
    dependencies,
    findings,
    intake,
    lifecycle,
    notifications,
    policies,
    reviews,
    waivers,
    worklists,
)

router = SimpleRouter()
router.register("policy-versions", policies.PolicyVersionViewSet, basename="policy-version")
router.register("intakes", intake.IntakeViewSet, basename="intake")
router.register("versions", lifecycle.VersionGovernanceViewSet, basename="version-governance")
router.register("validation-queue", lifecycle.ValidationQueueViewSet,
                basename="validation-queue")
router.register("findings", findings.FindingViewSet, basename="finding")
router.register("waivers", waivers.WaiverViewSet, basename="waiver")
router.register("periodic-reviews", reviews.PeriodicReviewViewSet, basename="periodic-review")
router.register("notifications", notifications.NotificationViewSet, basename="notification")

urlpatterns = [
    path("governance/my-work/", worklists.MyWorkView.as_view(), name="governance-my-work"),
    path("governance/board/", worklists.BoardView.as_view(), name="governance-board"),
    path("models/<slug:slug>/impact/", dependencies.ModelImpactView.as_view(),
         name="model-impact"),
    *router.urls,
]
