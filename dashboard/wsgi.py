"""`gunicorn dashboard.wsgi:server`: the dashboard with the settings of the environment."""

from dashboard.app import create_app
from gmv.settings import load_settings

server = create_app(load_settings()).server
