"""`gunicorn dashboard.wsgi:server`: the dashboard with the settings of the environment."""

from common.settings import load_settings
from dashboard.app import create_app

server = create_app(load_settings()).server
