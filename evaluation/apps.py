from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "evaluation"

    def ready(self) -> None:
        """Put the evaluation panels on the registry's model and version pages (core.pages):
        a model's data sets, a version's runs; and evaluation's figures on /metrics."""
        from core import metrics, pages
        from evaluation.prometheus import evaluation_metrics

        pages.add_panel("registry.model_detail", "evaluation/_model_panel.html")
        pages.add_panel("registry.version_detail", "evaluation/_version_panel.html")
        metrics.add_state_metric(evaluation_metrics)
