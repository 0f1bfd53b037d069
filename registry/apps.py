from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"

    def ready(self) -> None:
        """The inventory's link in the header, the model page's own tabs (core.pages), and the
        file store's readiness check (core.health: the folder, or the bucket when S3 is set)."""
        from core import health, pages
        from registry import storage, tabs

        pages.add_nav_link(pages.NavLink("Inventory", "registry:model-list"))
        pages.add_nav_link(pages.NavLink("Data sources", "data-sources"))
        tabs.register()
        health.CHECKS["storage"] = storage.ready
