from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"

    def ready(self) -> None:
        """Fill the extension points of the pages below governance (core.pages): the header's
        links, the governance panels of the registry's model and version pages, the model
        page's findings and review tabs, and governance's figures on /metrics; and the flagging of
        downstream models when an upstream model changes (a transition listener)."""
        from core import metrics, pages, permissions
        from governance.models import Notification
        from governance.prometheus import governance_metrics
        from governance.services import on_version_transition, upstream_change_flag
        from governance.services.notifications import tell_new_owner
        from governance.views import model_tabs
        from registry import services as registry

        pages.add_nav_link(pages.NavLink("My work", "governance:queue"))
        pages.add_nav_link(pages.NavLink("Findings", "governance:findings"))
        pages.add_nav_link(pages.NavLink("Waivers", "governance:waivers"))
        pages.add_nav_link(pages.NavLink("Tools", "governance:tools"))
        pages.add_nav_link(pages.NavLink("Attestations", "governance:attestations"))
        pages.add_nav_link(pages.NavLink("Board", "governance:board",
                                         shown=permissions.can_view_board))
        pages.add_nav_link(pages.NavLink("Policies", "governance:policies",
                                         shown=permissions.can_view_board))
        pages.add_nav_link(pages.NavLink(
            "Inbox", "governance:inbox",
            count=lambda user: Notification.objects.filter(user=user).unread().count(),
            count_id="unread-badge", count_title="unread notifications"))
        pages.add_panel("core.home", "governance/_dashboard.html")
        pages.add_panel("registry.model_detail", "governance/_model_panel.html")
        pages.add_panel("registry.model_detail", "governance/_vendor_panel.html")
        pages.add_panel("registry.model_detail", "governance/_attestation_panel.html")
        pages.add_panel("registry.version_detail", "governance/_version_panel.html")
        pages.add_panel("registry.version_form", "governance/_change_definitions.html")
        pages.add_panel("registry.model_dependencies", "governance/_model_impact.html")
        model_tabs.register()
        metrics.add_state_metric(governance_metrics)
        registry.on_owner_given(tell_new_owner)
        # A suspended, retired or materially changed model flags every model downstream of it.
        on_version_transition(upstream_change_flag)
