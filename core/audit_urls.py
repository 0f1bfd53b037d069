from django.urls import path

from core import audit_views

urlpatterns = [path("", audit_views.event_list, name="audit-list")]
