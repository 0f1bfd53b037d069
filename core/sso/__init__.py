"""Single sign-on through an OpenID Connect provider (docs/sso.md).

``provider`` reads the provider's configuration (discovery), ``backends`` signs people in
(mozilla-django-oidc, authorization code flow with PKCE) and keeps local passwords to the
break-glass administrators, ``identity`` creates and re-syncs accounts from the claims, and
``reauth`` re-authenticates a signer at the provider (``prompt=login``, ``max_age=0``) before a
sign-off is recorded, and ``logout`` sends someone signing out on to the provider's end-session
endpoint, so that its session ends too.
"""
