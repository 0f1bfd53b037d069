from django.urls import path
from rest_framework.routers import SimpleRouter

from core.api import views

router = SimpleRouter()
router.register("teams", views.TeamViewSet, basename="team")
router.register("users", views.UserViewSet, basename="user")
router.register("tokens", views.ApiTokenViewSet, basename="token")

urlpatterns = [path("me/", views.MeView.as_view(), name="api-me"), *router.urls]
