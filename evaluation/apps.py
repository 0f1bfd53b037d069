from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "evaluation"

    def ready(self) -> None:
        """Put the evaluations on the registry's pages (core.pages): the model page's
        evaluations tab (data sets, runs, comparison) and a version's runs; and evaluation's
        figures on /metrics; and name the predictions files in the approval attestation of a
        version with no artifact (governance.attestation)."""
        from core import metrics, pages
        from evaluation import tabs
        from evaluation.models import Dataset
        from evaluation.prometheus import evaluation_metrics
        from governance.attestation import add_data_names

        tabs.register()
        add_data_names(Dataset.objects.filenames_of)
        pages.add_panel("registry.version_detail", "evaluation/_version_panel.html")
        metrics.add_state_metric(evaluation_metrics)
