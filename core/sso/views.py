"""The single sign-on pages: off to the provider, back from it, and back from a re-authentication."""

from __future__ import annotations

import logging
from typing import Any

import requests
from django.contrib.auth.decorators import login_required
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from core import services, throttle
from core.errors import Unavailable
from core.http import AuthenticatedHttpRequest
from core.net import client_ip
from core.sso import reauth
from core.sso.logout import ID_TOKEN_SESSION_KEY
from core.sso.provider import endpoint, provider_name, sso_enabled

log = logging.getLogger(__name__)


def refused_page(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    return render(request, "core/sso_refused.html",
                  {"message": message, "provider": provider_name()}, status=status)


def _require_sso() -> None:
    if not sso_enabled():
        raise Http404("Single sign-on is not configured.")


class SsoLoginView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider's sign-in (code flow, PKCE S256, state and nonce)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.OIDC_RP_CLIENT_ID = ""  # set per request: the endpoint may need discovery
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        _require_sso()
        try:
            self.OIDC_OP_AUTH_ENDPOINT = endpoint("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except Unavailable as error:
            return refused_page(request, error.message, status=error.status)
        self.OIDC_RP_CLIENT_ID = self.get_settings("OIDC_RP_CLIENT_ID")
        response: HttpResponse = super().get(request)
        return response


class SsoCallbackView(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back: the code is exchanged, the account synced."""

    def get(self, request: HttpRequest) -> HttpResponse:
        _require_sso()
        try:
            response: HttpResponse = super().get(request)
        except (requests.RequestException, Unavailable) as exc:
            log.warning("single sign-on callback failed: %s", exc.__class__.__name__)
            return refused_page(request, f"{provider_name()} could not be asked to confirm your "
                                         "sign-in; try again in a minute.", status=503)
        except SuspiciousOperation as exc:
            return refused_page(request, f"The answer from {provider_name()} was not accepted "
                                         f"({exc}). Start again from the sign-in page.",
                                status=400)
        return response

    def login_failure(self) -> HttpResponse:
        # The library kept the provider's ID token before Assay refused the person: a refused
        # sign-in keeps nothing of the provider's in the browser's session.
        self.request.session.pop(ID_TOKEN_SESSION_KEY, None)
        message = getattr(self.request, "sso_refusal", None) or (
            f"{provider_name()} did not sign you in ({self.request.GET.get('error', 'no code')}"
            "). Start again from the sign-in page.")
        return refused_page(self.request, message, status=403)

    def login_success(self) -> HttpResponse:
        response: HttpResponse = super().login_success()
        throttle.succeeded(self.user.username)
        services.login_succeeded(user=self.user, client_ip=client_ip(self.request))
        return response


@login_required
def reauth_callback(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Back from a re-authentication: the result is checked and kept for the page that asked,
    which the browser returns to (it decides; nothing is signed here)."""
    _require_sso()
    return_to = reauth.reauth_complete(request)
    if return_to is None:
        return refused_page(request, "This answer from the provider belongs to no sign-off "
                                     "in progress (it was used already, or is from another "
                                     "browser). Go back to the sign-off page and sign again.",
                            status=400)
    return HttpResponseRedirect(return_to)

