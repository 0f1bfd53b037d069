from django.urls import path

from registry import import_views

urlpatterns = [
    path("mlflow/", import_views.mlflow_imports, name="mlflow-imports"),
    path("mlflow/<int:pk>/", import_views.mlflow_import, name="mlflow-import"),
]
