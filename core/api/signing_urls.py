from django.urls import path

from core.api import signing_views

urlpatterns = [
    path("signing/keys/", signing_views.SigningKeyList.as_view(), name="api-signing-keys"),
    path("signing/keys/<str:keyid>/", signing_views.SigningKeyDetail.as_view(),
         name="api-signing-key"),
    path("audit/checkpoints/", signing_views.CheckpointList.as_view(),
         name="api-audit-checkpoints"),
    path("audit/export/", signing_views.AuditExportView.as_view(), name="api-audit-export"),
]
