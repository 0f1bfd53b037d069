from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core import health, metrics
from core import views as core_views
from core.sso import views as sso_views
from reports.card_api import ModelCardView

api_v1: list[URLPattern | URLResolver] = [
    path("", include("core.api.urls")),
    path("", include("registry.api.urls")),
    path("", include("governance.api.urls")),
    path("", include("evaluation.api_urls")),
    path("", include("serving.api")),
    path("audit/", include("core.api.audit_urls")),
    path("", include("core.api.signing_urls")),
    path("", include("serving.keys_api")),
    path("versions/<int:pk>/model-card/", ModelCardView.as_view(), name="api-model-card"),
    path("monitoring/", include("monitoring.api")),
    path("", include("reports.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema",
                                                      template_name="api_docs.html"), name="swagger-ui"),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("", core_views.home, name="home"),
    path("login/", core_views.LoginView.as_view(), name="login"),
    path("logout/", core_views.logout_view, name="logout"),
    path("sso/login/", sso_views.SsoLoginView.as_view(), name="sso-login"),
    path("sso/callback/", sso_views.SsoCallbackView.as_view(), name="sso-callback"),
    path("sso/reauth/callback/", sso_views.reauth_callback, name="sso-reauth-callback"),
    path("account/tokens/", core_views.tokens, name="tokens"),
    path("account/tokens/<int:pk>/revoke/", core_views.token_revoke, name="token-revoke"),
    path("audit/", include("core.audit_urls")),
    path("people/", include("core.people_urls")),
    path("models/", include("registry.urls")),
    path("imports/", include("registry.import_urls")),
    path("data-sources/", include("registry.data_source_urls")),
    path("", include("governance.urls")),
    path("evaluation/", include("evaluation.urls")),
    path("deployments/", include("serving.urls")),
    path("reports/", include("reports.urls")),
    path("monitoring/", include("monitoring.urls")),
    path("serving/keys/", include("serving.keys_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
]

handler400 = "core.views.bad_request"
handler404 = "core.views.not_found"
handler500 = "core.views.server_error"
