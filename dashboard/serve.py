"""`gmv serve`: the dashboard under gunicorn, several workers that share nothing but Redis and files."""

from __future__ import annotations

import importlib
import logging
import resource
from typing import Any

from gunicorn.app.base import BaseApplication

from common.logs import log_event
from common.redis_server import url_for_logs
from common.settings import Settings
from common.stopping import STOP_WITHIN_S

log = logging.getLogger("gmv.serve")
OPEN_FILES_WANTED = 65_536
GRACEFUL_S = int(STOP_WITHIN_S) - 1  # SIGTERM: requests in flight may finish, then the workers go


class DashboardServer(BaseApplication):
    """`module` names another module's `server` to serve the same way (bench/viewers.py's ceiling)."""

    def __init__(self, settings: Settings, module: str | None = None) -> None:
        self.settings, self.module = settings, module
        super().__init__()

    def load_config(self) -> None:
        settings = self.settings
        options: dict[str, Any] = {
            "bind": f"{settings.web_host}:{settings.web_port}",
            "workers": settings.web_workers, "threads": settings.web_threads,
            "worker_class": "dashboard.push.PushWorker" if self.pushes() else "gthread",
            "worker_connections": 2000, "keepalive": 30,
            "timeout": 60, "graceful_timeout": GRACEFUL_S, "accesslog": None, "errorlog": "-",
            "loglevel": "warning", "proc_name": "gmv-serve",
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def pushes(self) -> bool:
        return self.settings.web_push and not self.module

    def load(self) -> Any:
        if self.module:
            return importlib.import_module(self.module).server
        from dashboard.app import create_app  # in each worker: Dash's callback registry is global

        app = create_app(self.settings)
        if not self.pushes():
            return app.server
        from dashboard.push import push_app

        return push_app(app, self.settings)


def serve(settings: Settings) -> None:
    log_event(log, "dashboard_serving", url=f"http://{settings.web_host}:{settings.web_port}/",
              workers=settings.web_workers, threads=settings.web_threads,
              push="sse" if settings.web_push else "off", open_files=_open_files_for_screens(),
              redis=url_for_logs(settings.redis_url))
    DashboardServer(settings).run()


def _open_files_for_screens() -> int:
    """Each pushed screen holds a connection (a file) open in one worker, and the workers do not
    share them out evenly: the soft limit (often 1,024) raised to the hard one. The limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, OPEN_FILES_WANTED)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass  # kept as it was: said in the log line
    return int(soft)
