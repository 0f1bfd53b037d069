from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "evaluation"

    def ready(self) -> None:
        """Put the evaluations on the registry's pages (core.pages): the model page's
        evaluations tab (data sets, runs, comparison) and a version's runs; and evaluation's
        figures on /metrics."""
        from core import metrics, pages
        from evaluation import tabs
        from evaluation.prometheus import evaluation_metrics

        tabs.register()
        pages.add_panel("registry.version_detail", "evaluation/_version_panel.html")
        metrics.add_state_metric(evaluation_metrics)
