"""``mobileid serve``: the HTTP service and the phone app."""

from __future__ import annotations

import argparse
from typing import Any

from mobileid.config import Settings


def add_serve_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "serve",
        parents=[common],
        help="serve the HTTP API (/api/v1) and the phone app (/) until interrupted",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--tls",
        action="store_true",
        help="HTTPS with a self-signed certificate (made once in DATA_DIR/tls; its SHA-256 "
        "fingerprint is printed): phones give the camera only to HTTPS pages",
    )
    p.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.api.serve import serve
    from mobileid.errors import InvalidArgument

    if not 0 < args.port < 65536:
        raise InvalidArgument(f"--port: expected 1..65535, got {args.port}", field="port")
    serve(settings, host=args.host, port=args.port, tls=args.tls)
    return 0
