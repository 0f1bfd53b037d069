from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self) -> None:
        """Put the reports panel on the registry's version page, the model card tab on its
        model page, the CSV export (with the page's filter) on the findings page and the Exports
        link in the header (core.pages), and archive the validation report at every approval
        (governance.attestation): its digest goes into the approval attestation; once the
        approval commits, print and archive its certificate."""
        from core import pages
        from governance.attestation import add_after_approval, add_approval_document
        from reports import services, tabs
        from reports.exports import shows_exports

        pages.add_panel("registry.version_detail", "reports/_version_panel.html")
        pages.add_panel("governance.findings", "reports/_findings_export.html")
        pages.add_nav_link(pages.NavLink("Exports", "reports:exports", shown=shows_exports))
        tabs.register()
        add_approval_document("validation_report", services.validation_report_archive,
                              prepare=services.validation_report_prepare)
        add_after_approval(services.certificate_archive)
