from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Assay core"

    def ready(self) -> None:
        from core import db_roles, metrics

        db_roles.connect_signal()
        metrics.add_state_metric(metrics.audit_metrics)
