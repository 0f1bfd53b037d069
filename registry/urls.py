from django.urls import path, register_converter

from registry import views
from registry.tabs import ModelTabConverter

register_converter(ModelTabConverter, "modeltab")

app_name = "registry"
urlpatterns = [
    path("", views.model_list, name="model-list"),
    path("new/", views.model_create, name="model-create"),
    path("<slug:slug>/", views.model_detail, name="model-detail"),
    path("<slug:slug>/edit/", views.model_edit, name="model-edit"),
    path("<slug:slug>/documents/", views.vendor_document_upload, name="vendor-document-upload"),
    path("<slug:slug>/documents/<int:doc_id>/", views.vendor_document_download,
         name="vendor-document-download"),
    path("<slug:slug>/versions/new/", views.version_create, name="version-create"),
    path("<slug:slug>/versions/<int:number>/", views.version_detail, name="version-detail"),
    path("<slug:slug>/versions/<int:number>/monotone/", views.version_monotone,
         name="version-monotone"),
    path("<slug:slug>/versions/<int:number>/artifact/", views.artifact_upload,
         name="artifact-upload"),
    path("<slug:slug>/versions/<int:number>/artifact/download/", views.artifact_download,
         name="artifact-download"),
    path("<slug:slug>/versions/<int:number>/signatures/<str:kind>/", views.signature_download,
         name="signature-download"),
    # Last: a tab's key is a word other URLs under a model may use too (the converter only
    # matches the tabs' keys).
    path("<slug:slug>/<modeltab:tab>/", views.model_detail, name="model-tab"),
]
