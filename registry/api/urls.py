from rest_framework.routers import SimpleRouter

from registry.api import views

router = SimpleRouter()
router.register("models", views.ModelViewSet, basename="model")
router.register("versions", views.VersionViewSet, basename="version")

urlpatterns = router.urls
