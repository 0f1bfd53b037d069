from rest_framework.routers import SimpleRouter

from governance.api import views

router = SimpleRouter()
router.register("policy-versions", views.PolicyVersionViewSet, basename="policy-version")
router.register("intakes", views.IntakeViewSet, basename="intake")
router.register("versions", views.VersionGovernanceViewSet, basename="version-governance")
router.register("validation-queue", views.ValidationQueueViewSet, basename="validation-queue")

urlpatterns = router.urls
