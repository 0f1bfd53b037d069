from django.urls import path
from rest_framework.routers import SimpleRouter

from core.api import views

# "api-" names: the pages own plain names such as "token-revoke" (the tokens page's revoke form).
router = SimpleRouter()
router.register("teams", views.TeamViewSet, basename="api-team")
router.register("users", views.UserViewSet, basename="api-user")
router.register("tokens", views.ApiTokenViewSet, basename="api-token")

urlpatterns = [path("me/", views.MeView.as_view(), name="api-me"), *router.urls]
