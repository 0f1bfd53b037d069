from django.urls import path
from rest_framework.routers import SimpleRouter

from governance.api import (
    attestations,
    dependencies,
    findings,
    intake,
    lifecycle,
    notifications,
    onboarding,
    policies,
    reviews,
    tools,
    vendor,
    waivers,
    worklists,
)

router = SimpleRouter()
router.register("policy-versions", policies.PolicyVersionViewSet, basename="policy-version")
router.register("intakes", intake.IntakeViewSet, basename="intake")
router.register("vendor-models", vendor.VendorModelViewSet, basename="vendor-model")
router.register("versions", lifecycle.VersionGovernanceViewSet, basename="version-governance")
router.register("validation-queue", lifecycle.ValidationQueueViewSet,
                basename="validation-queue")
router.register("findings", findings.FindingViewSet, basename="finding")
router.register("waivers", waivers.WaiverViewSet, basename="waiver")
router.register("attestations", attestations.OwnerAttestationViewSet, basename="attestation")
router.register("periodic-reviews", reviews.PeriodicReviewViewSet, basename="periodic-review")
router.register("tools", tools.ToolViewSet, basename="tool")
router.register("notifications", notifications.NotificationViewSet, basename="notification")

urlpatterns = [
    path("governance/my-work/", worklists.MyWorkView.as_view(), name="governance-my-work"),
    path("governance/board/", worklists.BoardView.as_view(), name="governance-board"),
    path("inventory/import/", onboarding.InventoryImportView.as_view(), name="inventory-import"),
    path("inventory/export/", onboarding.InventoryExportView.as_view(), name="inventory-export"),
    path("models/<slug:slug>/impact/", dependencies.ModelImpactView.as_view(),
         name="model-impact"),
    *router.urls,
]
