"""Run the web application under uvicorn, as `aewatch serve` and the tests do."""

from __future__ import annotations

import logging
import signal
from typing import Any

import uvicorn

from aewatch.runtime import Runtime
from aewatch.web.app import create_app

log = logging.getLogger("aewatch.web")
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def make_server(runtime: Runtime, secret: str, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for the app. Its own access log is off (ours never logs query
    strings, where tokens travel); the proxy's X-Forwarded-For/-Proto are trusted only
    from the loopback proxy (uvicorn's default ``forwarded_allow_ips``)."""
    # Its access log line carries the query string: off, whatever logging setup is in force.
    logging.getLogger("uvicorn.access").disabled = True
    config = uvicorn.Config(
        create_app(runtime, secret),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        server_header=False,
        lifespan="off",
        timeout_graceful_shutdown=10,
    )
    return uvicorn.Server(config)


def serve(runtime: Runtime, secret: str, host: str, port: int) -> None:
    """Serve until SIGTERM or Ctrl-C."""
    if host not in LOOPBACK:
        log.warning(
            "listening on %s: the pages must be reached through the site's HTTPS "
            "reverse proxy only",
            host,
        )
    log.warning(
        "aewatch serve on http://%s:%d (public address %s)",
        host,
        port,
        runtime.settings.web.base_url or "not set: emails carry no links",
    )
    server: Any = make_server(runtime, secret, host, port)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal to the
    # handlers it found; these make that a clean exit 0, like `aewatch run`.
    for received in (signal.SIGTERM, signal.SIGINT):
        signal.signal(received, lambda *_: None)
    server.run()
    log.warning("aewatch serve stopped")
