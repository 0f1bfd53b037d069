from django.urls import path
from rest_framework.routers import SimpleRouter

from evaluation import api, compare_api

router = SimpleRouter()
router.register("datasets", api.DatasetViewSet, basename="dataset")
router.register("runs", api.RunViewSet, basename="run")
router.register("explanations", api.RowExplanationViewSet, basename="row-explanation")

# Before the router's: "runs/compare/" is not a run's id.
urlpatterns = [
    path("runs/compare/", compare_api.RunCompareView.as_view(), name="run-compare"),
    path("versions/<int:pk>/comparison/", compare_api.VersionCompareView.as_view(),
         name="version-comparison"),
    *router.urls,
]
