"""WSGI entry point for gunicorn: `gunicorn 'wsgi:app'`."""

import os

from config.settings import Settings
from config.wiring import build_services
from connector import create_app

app = create_app(build_services(Settings.from_env(os.environ)))
