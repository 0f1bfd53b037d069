from django.urls import path

from core.api import audit_views

urlpatterns = [
    path("verify/", audit_views.VerifyChainView.as_view(), name="api-audit-verify"),
]
