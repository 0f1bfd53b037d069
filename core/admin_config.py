from django.contrib.admin.apps import AdminConfig


class AssayAdminConfig(AdminConfig):
    """Django's admin with Assay's site (permission rules from core.permissions)."""

    default_site = "core.admin_site.AssayAdminSite"
