"""WSGI entry point for gunicorn: ``gunicorn dashboard.wsgi:server``.

Importing this module builds the app from the ``SALESBI_*`` environment; only gunicorn imports it.
"""

from dashboard.app import create_app

server = create_app().server
