from django.urls import path

from reports import export_views, views

app_name = "reports"

urlpatterns = [
    path("<slug:slug>/evidence-pack/", views.evidence_pack, name="evidence-pack"),
    path("<slug:slug>/evidence-pack.zip", views.evidence_pack_download,
         name="evidence-pack-download"),
    path("exports/", export_views.exports_page, name="exports"),
    path("exports/<int:pk>/", export_views.export_page, name="export"),
    path("exports/<int:pk>/download/", export_views.export_download, name="export-download"),
    path("<slug:slug>/v<int:number>/model-card/", views.model_card, name="model-card"),
    path("<slug:slug>/v<int:number>/model-card.pdf", views.model_card_pdf, name="model-card-pdf"),
    path("<slug:slug>/v<int:number>/model-card.json", views.model_card_json,
         name="model-card-json"),
    path("<slug:slug>/v<int:number>/model-card.md", views.model_card_markdown,
         name="model-card-markdown"),
    path("<slug:slug>/v<int:number>/validation-report.pdf", views.validation_report_pdf,
         name="validation-report-pdf"),
    path("<slug:slug>/v<int:number>/certificate.pdf", views.certificate_pdf,
         name="certificate-pdf"),
]
