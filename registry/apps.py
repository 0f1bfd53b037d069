from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"

    def ready(self) -> None:
        """The inventory's link in the header and the model page's own tabs (core.pages)."""
        from core import pages
        from registry import tabs

        pages.add_nav_link(pages.NavLink("Inventory", "registry:model-list"))
        tabs.register()
