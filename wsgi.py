"""WSGI entry point for gunicorn: `gunicorn 'wsgi:app'`."""

import os

from config.settings import Settings
from config.wiring import build_services
from connector import create_app
from connector.logs import configure_logging
from connector.openapi import document

settings = Settings.from_env(os.environ)
# JSON lines unless CREDITGATE_LOG_FORMAT=text: a server's log goes to a collector, not a person.
configure_logging(settings.log_level, settings.log_format or "json")
app = create_app(build_services(settings))
document(app)  # the API document, built once at start: a mistake in it stops the start
