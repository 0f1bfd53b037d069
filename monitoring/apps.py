from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"

    def ready(self) -> None:
        """The Monitoring link in the header, monitoring status on the dashboard (core.pages),
        and the monitoring plan made at every approval from the tier's policy (its rules go
        into the approval attestation, governance.attestation)."""
        from core import pages
        from governance.attestation import add_approval_document
        from monitoring import services

        pages.add_nav_link(pages.NavLink("Monitoring", "monitoring:plans"))
        pages.add_panel("core.home", "monitoring/_dashboard.html")
        add_approval_document("monitoring_plan", services.plan_set_at_approval)
