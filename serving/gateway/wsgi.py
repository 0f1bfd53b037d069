"""The gateway as its own WSGI app: ``gunicorn serving.gateway.wsgi``.

Django is set up for its settings and ORM (the background refresh and the prediction log), but
requests never pass through Django's handler or the site's middleware.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
django.setup()

from serving.gateway.app import Gateway  # noqa: E402  (needs the settings above)

application = Gateway()
