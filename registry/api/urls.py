from rest_framework.routers import SimpleRouter

from registry.api import views

router = SimpleRouter()
router.register("models", views.ModelViewSet, basename="model")
router.register("versions", views.VersionViewSet, basename="version")
router.register("data-sources", views.DataSourceViewSet, basename="data-source")
router.register("imports/mlflow", views.MlflowImportViewSet, basename="mlflow-import")

urlpatterns = router.urls
