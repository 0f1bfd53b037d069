from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "evaluation"

    def ready(self) -> None:
        """Put the evaluations on the registry's pages (core.pages): the model page's
        evaluations tab (data sets, runs, comparison) and a version's runs."""
        from core import pages
        from evaluation import tabs

        tabs.register()
        pages.add_panel("registry.version_detail", "evaluation/_version_panel.html")
