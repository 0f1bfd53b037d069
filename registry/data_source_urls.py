from django.urls import path

from registry import data_source_views as views

urlpatterns = [
    path("", views.data_source_list, name="data-sources"),
    path("new/", views.data_source_create, name="data-source-create"),
    path("<int:pk>/", views.data_source_detail, name="data-source"),
    path("<int:pk>/edit/", views.data_source_edit, name="data-source-edit"),
    path("<int:pk>/delete/", views.data_source_delete, name="data-source-delete"),
]
