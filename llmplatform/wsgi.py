"""WSGI entry point (gunicorn llmplatform.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "llmplatform.settings")
application = get_wsgi_application()
