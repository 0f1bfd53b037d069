"""Pages for signing in and out, the home page and the user's API tokens."""

from __future__ import annotations

import sys
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import defaults
from django.views.decorators.http import require_POST

from core import audit, outage, services, throttle
from core.errors import DomainError
from core.forms import add_domain_error
from core.http import AuthenticatedHttpRequest
from core.middleware import refusal_response
from core.net import client_ip
from core.sso.backends import password_sign_in_allowed
from core.sso.logout import provider_logout_url
from core.sso.provider import provider_name, sso_enabled


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's login form, refusing early once an account or address has failed too often."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request)  # type: ignore[arg-type]  # LoginView always passes it
        reason = throttle.refusal(username, ip)
        if reason:
            audit.record_security(action="auth.login_throttled", principal=username,
                                  reason="throttled", payload={"ip": ip})
            raise ValidationError(reason, code="throttled")
        if not password_sign_in_allowed(username):
            # Refused before the password is checked, so this door cannot test passwords.
            audit.record_security(action="auth.login_failed", principal=username,
                                  reason="password_sign_in_off", payload={"ip": ip})
            raise ValidationError(
                f"Password sign-in is off: sign in with {provider_name()}. Only the break-glass "
                "administrators named in ASSAY_BREAK_GLASS_USERS sign in with a password.",
                code="password_sign_in_off")
        try:
            return super().clean()
        except ValidationError:
            throttle.failed(username, ip)
            audit.record_security(action="auth.login_failed", principal=username,
                                  reason="bad_credentials", payload={"ip": ip})
            raise


class LoginView(auth_views.LoginView):
    template_name = "core/login.html"
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # Under single sign-on the password form is for break-glass administrators only: shown
        # when they ask for it (or when it has just been posted, to show its errors).
        context["sso"] = sso_enabled()
        context["provider"] = provider_name()
        context["show_password_form"] = (not context["sso"] or "break_glass" in self.request.GET
                                         or self.request.method == "POST")
        return context

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        throttle.succeeded(form.get_user().username)
        services.login_succeeded(user=form.get_user(), client_ip=client_ip(self.request))
        return response


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Sign out (POST only: a link or an <img> cannot sign anyone out). A session that came
    through the identity provider goes on to the provider's sign-out, which comes back to the
    sign-in page; any other comes straight back."""
    from django.contrib.auth import logout

    at_provider = None
    if request.user.is_authenticated:
        at_provider = provider_logout_url(request)  # before logout(): it reads the ID token
        services.logout_recorded(user=request.user, at_provider=at_provider is not None)
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect(at_provider or "login")


@login_required
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "core/home.html")


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Where the token is used, e.g. 'CI pipeline'.")
    expires_in_days = forms.IntegerField(min_value=1, initial=90, label="Expires in (days)")


@login_required
def tokens(request: AuthenticatedHttpRequest) -> HttpResponse:
    """List the user's tokens; create one (its value is shown once, on this response only)."""
    created = None
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            _token, created = services.token_create(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            form = TokenForm()
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, "core/tokens.html", {
        "form": form, "created": created, "tokens": request.user.api_tokens.all(),
    }, status=status)


@login_required
@require_POST
def token_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(request.user.api_tokens, pk=pk)
    services.token_revoke(actor=request.user, token=token)
    messages.success(request, f"Token '{token.name}' is revoked; it no longer works.")
    return redirect("tokens")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 for unknown URLs: the API's error shape under /api/, the page otherwise."""
    if request.path.startswith("/api/"):
        return refusal_response(request, 404, (
            f"There is no API endpoint at {request.path}; the endpoints are listed at "
            "/api/v1/docs/."))
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """500 for an uncaught exception, unless it was an outage: a database that cannot be reached
    anywhere in the request (middleware included) answers 503 with Retry-After instead."""
    exc = sys.exc_info()[1]
    if outage.is_outage(exc):
        return outage.unavailable_response(request, exc)
    if request.path.startswith("/api/"):
        return refusal_response(request, 500, (
            "Assay failed to answer this request (an error on our side, logged with its request "
            "id); try again, and tell the administrator if it keeps happening."))
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """400 for requests Django itself refuses (e.g. too many or too large form fields)."""
    detail = str(exception) if exception else "The request is malformed."
    return refusal_response(request, 400, f"{detail}. Check the request and send it again.")
