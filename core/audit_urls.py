from django.urls import path

from core import audit_views

urlpatterns = [
    path("", audit_views.event_list, name="audit-list"),
    path("events/<int:seq>/", audit_views.event_detail, name="audit-event"),
    path("verify/", audit_views.verify_now, name="audit-verify"),
    path("verify/<int:pk>/", audit_views.verification_progress, name="audit-verification"),
    path("export/", audit_views.export_download, name="audit-export"),
]
