from django.urls import path

from evaluation import compare_views, views

app_name = "evaluation"
urlpatterns = [
    path("models/<slug:slug>/datasets/new/", views.dataset_upload, name="dataset-upload"),
    path("datasets/<int:pk>/download/", views.dataset_download, name="dataset-download"),
    path("models/<slug:slug>/versions/<int:number>/runs/new/", views.run_launch,
         name="run-launch"),
    path("runs/<int:pk>/", views.run_detail, name="run-detail"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run-cancel"),
    path("runs/<int:pk>/explain/", views.run_explain_row, name="run-explain-row"),
    path("runs/<int:pk>/explanations/<int:explanation>/", views.run_explanation,
         name="run-explanation"),
    path("runs/<int:pk>/results.json", views.run_results, name="run-results"),
    path("compare/", compare_views.run_compare, name="compare"),
    path("models/<slug:slug>/versions/<int:number>/compare/", compare_views.version_compare,
         name="version-compare"),
]
