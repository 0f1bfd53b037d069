from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Assay core"

    def ready(self) -> None:
        from core import db_roles, metrics
        from core.sso import checks  # noqa: F401  (registers the single sign-on checks)

        db_roles.connect_signal()
        metrics.add_state_metric(metrics.audit_metrics)
