from rest_framework.routers import SimpleRouter

from evaluation import api

router = SimpleRouter()
router.register("datasets", api.DatasetViewSet, basename="dataset")
router.register("runs", api.RunViewSet, basename="run")

urlpatterns = router.urls
