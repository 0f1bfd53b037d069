from django.apps import AppConfig


class ServingConfig(AppConfig):
    name = "serving"

    def ready(self) -> None:
        """The Deployments link in the header, the endpoints a version is deployed to on the
        registry's version page, and the model page's deployments tab (core.pages); and the
        endpoints' owners told when a version their endpoint serves is suspended or reinstated
        (governance's transition listeners)."""
        from core import pages
        from governance.services import on_version_transition
        from serving import tabs
        from serving.services import endpoints_tell_version_state

        pages.add_nav_link(pages.NavLink("Deployments", "serving:endpoints"))
        pages.add_panel("registry.version_detail", "serving/endpoints_version_panel.html")
        tabs.register()
        on_version_transition(endpoints_tell_version_state)
