"""The local functions gateway: every function, as functions-framework serves it, behind one port.

Prefixes follow the contract (`/enroll`, `/expire-tokens`, `/policy`, `/commands`,
`/reconcile-commands`, `/notifications`, `/rollouts`, `/mcp`); each prefix is a separate
functions-framework app, exactly what Cloud Functions runs in production.
"""

from __future__ import annotations

import argparse
import json
import signal
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# prefix -> (target, source, signature type)
FUNCTIONS: dict[str, tuple[str, str, str]] = {
    "/enroll": ("enroll", "functions/enroll/main.py", "http"),
    "/expire-tokens": ("expire_tokens", "functions/enroll/main.py", "http"),
    "/policy": ("policy", "functions/policy/main.py", "http"),
    "/commands": ("commands", "functions/commands/main.py", "http"),
    "/reconcile-commands": ("reconcile_commands", "functions/commands/main.py", "http"),
    "/notifications": ("notifications", "functions/notifications/main.py", "cloudevent"),
    "/rollouts": ("rollouts", "functions/rollouts/main.py", "cloudevent"),
    "/mcp": ("mcp", "functions/mcp/main.py", "http"),
}

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _json_app(status: str, body: dict[str, Any]) -> WSGIApp:
    payload = json.dumps(body).encode()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response(status, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(payload)))])
        return [payload]
    return app


def _with_health(app: WSGIApp) -> WSGIApp:
    """CloudEvent apps only take POST; answer the stack's readiness probe in front of them."""
    healthy = _json_app("200 OK", {"status": "ok"})

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO") == "/healthz":
            return healthy(environ, start_response)
        return app(environ, start_response)
    return wrapped


def _rooted(app: WSGIApp) -> WSGIApp:
    """The function's URL itself reaches its root path, as in Cloud Functions (`/mcp` is the
    MCP endpoint, not a redirect to `/mcp/`)."""
    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("PATH_INFO"):
            environ["PATH_INFO"] = "/"
        return app(environ, start_response)
    return wrapped


def build_gateway(root: Path = ROOT) -> WSGIApp:
    """One WSGI app dispatching each prefix to its function."""
    from functions_framework import create_app
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    mounts: dict[str, WSGIApp] = {}
    for prefix, (target, source, signature) in FUNCTIONS.items():
        app = create_app(target, str(root / source), signature)
        mounts[prefix] = _rooted(_with_health(app) if signature == "cloudevent" else app)
    unknown = _json_app("404 Not Found", {"error": {
        "code": 404, "status": "NOT_FOUND",
        "message": "no function here; prefixes: " + ", ".join(FUNCTIONS), "details": []}})
    return DispatcherMiddleware(unknown, mounts)


def _exit(*_: Any) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    """Serve the gateway in the foreground until SIGINT or SIGTERM."""
    from werkzeug.serving import make_server

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port, build_gateway(), threaded=True)
    signal.signal(signal.SIGTERM, _exit)
    print(f"functions gateway listening on http://{args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
