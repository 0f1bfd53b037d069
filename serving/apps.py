from django.apps import AppConfig


class ServingConfig(AppConfig):
    name = "serving"

    def ready(self) -> None:
        """The Deployments link in the header, the endpoints a version is deployed to on the
        registry's version page, and the model page's deployments tab (core.pages)."""
        from core import pages
        from serving import tabs

        pages.add_nav_link(pages.NavLink("Deployments", "serving:endpoints"))
        pages.add_panel("registry.version_detail", "serving/endpoints_version_panel.html")
        tabs.register()
