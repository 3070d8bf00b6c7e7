"""MCP protocol layer: tools, resources and prompts over the job store.

Nothing here imports torch, diffusers or peft; ``hdr-mcp`` answers ``initialize`` quickly and
leaves GPU work to ``hdr_mcp.jobs`` workers.
"""

from __future__ import annotations

import hmac
import os
import socket
import sys
from pathlib import Path
from typing import Any

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.server.config import ServerConfig, WorkerMode

__all__ = ["ServerConfig", "build_server", "run_server"]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def build_server(config: ServerConfig):
    """The configured ``MCPServer`` (see :mod:`hdr_mcp.server.app`)."""
    from hdr_mcp.server.app import build_server as _build

    return _build(config)


class BearerTokenMiddleware:
    """ASGI middleware refusing requests without ``Authorization: Bearer <token>``."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            if not hmac.compare_digest(headers.get(b"authorization", b""), self.expected):
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"text/plain"), (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body", "body": b"missing or wrong bearer token\n"})
                return
        await self.app(scope, receive, send)


def run_server(
    *,
    http: bool = False,
    host: str = "127.0.0.1",
    port: int = 8765,
    roots: list[Path] | None = None,
    output_dir: Path | None = None,
    home: Path | None = None,
    worker: WorkerMode = "spawn",
    **backend: Any,
) -> None:
    """Serve stdio (default) or streamable HTTP.

    Binding a non-loopback ``host`` requires ``HDR_MCP_TOKEN``; every HTTP request must then
    carry it as a bearer token. On loopback the token is optional but enforced when set.
    ``backend`` (``backend="ray"``, ``ray_address``, ``ray_actors``, ``cpus_per_actor``): see
    :class:`ServerConfig`; a Ray pool's actors end with the server.
    """
    config = ServerConfig.from_env(home=home, roots=roots, output_dir=output_dir, worker=worker,
                                   **backend)
    server = build_server(config)
    try:
        _serve(server, http=http, host=host, port=port)
    finally:
        server.hdr.close()


def _serve(server: Any, *, http: bool, host: str, port: int) -> None:
    if not http:
        server.run()
        return
    token = os.environ.get("HDR_MCP_TOKEN", "")
    loopback = host in LOOPBACK_HOSTS
    if not loopback and not token:
        raise InvalidArgument("host", host, "serving on a non-loopback address needs a bearer token: set HDR_MCP_TOKEN")
    if not 0 < port < 65536:
        raise InvalidArgument("port", port, "expected 1..65535")
    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    security = None
    if not loopback:
        # DNS-rebinding protection only knows loopback names; with a token every request is
        # authenticated, so the Host check is relaxed for the address we bind.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    listening = _listen(host, port)
    app = server.streamable_http_app(host=host, transport_security=security)
    asgi = BearerTokenMiddleware(app, token) if token else app
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(f"hdr-mcp: serving MCP (streamable HTTP) at http://{shown}:{port}/mcp"
                     f"{' (bearer token required)' if token else ''}; Ctrl-C to stop\n")
    uvicorn.Server(uvicorn.Config(asgi, log_level="warning")).run(sockets=[listening])


def _listen(host: str, port: int) -> socket.socket:
    """A socket already listening on ``host:port``, so the address printed next answers at
    once (connections queue until uvicorn accepts them); an :class:`InvalidArgument` naming
    ``port`` when another process listens there (uvicorn would print its own message and
    exit 3)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
        listening.listen(128)
    except OSError as e:
        listening.close()
        raise InvalidArgument("port", port, f"cannot listen on {host}:{port}: {e.strerror}; "
                              "pass another --port") from None
    return listening
