from rest_framework.routers import SimpleRouter

from reports import api

router = SimpleRouter()
router.register("reports/exports", api.ExportViewSet, basename="report-export")

urlpatterns = router.urls
