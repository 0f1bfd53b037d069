from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"

    def ready(self) -> None:
        """The inventory's link in the header (core.pages)."""
        from core import pages

        pages.add_nav_link(pages.NavLink("Inventory", "registry:model-list"))
