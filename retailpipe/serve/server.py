"""Runs the dashboards: waitress (production) by default, Flask's reloader with `--dev`."""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterable

from retailpipe.errors import ConfigError, ServiceError
from retailpipe.infra.ports import bind_error
from retailpipe.serve.app import create_app
from retailpipe.settings import Settings

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and names that resolve only to them (e.g. localhost)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def check_port(host: str, port: int) -> None:
    """Fail early with a clear message when the port is taken."""
    error = bind_error(host, port)
    if error is not None:
        raise ServiceError(
            f"cannot listen on {host}:{port}: {error.strerror}",
            "stop whatever uses that port or pass another --port",
        )


def run(settings: Settings, dashboards: Iterable[str], *, dev: bool = False) -> None:
    """Serve until interrupted."""
    host, port = settings.serve.host, settings.serve.port
    if dev and not is_loopback(host):
        raise ConfigError(
            f"--dev serves only on the loopback interface, not {host}",
            "drop --dev (other hosts get the production server) or use --host 127.0.0.1",
        )
    app = create_app(settings, dashboards)
    if dev:
        app.config["TEMPLATES_AUTO_RELOAD"] = True
        # The reloader only: the interactive debugger runs code for whoever reaches it.
        app.run(host=host, port=port, debug=False, use_reloader=True, use_debugger=False)
        return
    from waitress import serve

    log.info(
        "serving on http://%s:%d with waitress (%d threads)", host, port, settings.serve.threads
    )
    serve(
        app,
        host=host,
        port=port,
        threads=settings.serve.threads,
        ident="retailpipe",
        clear_untrusted_proxy_headers=True,
    )
