"""Per-request overhead of the egress gateway client vs a plain httpx.Client (loopback only).

Both clients send the same keep-alive GETs to the same loopback server in the same run,
interleaved in rounds so that drift (CPU frequency, other load) hits both equally.

    .venv/bin/python bench/bench_gateway.py [--requests 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import http.server
import statistics
import threading
import time
from typing import Any

import httpx

from bastion.config import Settings
from bastion.net import build_http_client

BODY = b"x" * 512


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


def _time(client: httpx.Client, url: str, n: int) -> float:
    client.get(url).read()  # warm: connection established, pools filled
    start = time.perf_counter()
    for _ in range(n):
        client.get(url)
    return (time.perf_counter() - start) / n * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1/models?x=1"

    records: list[dict[str, Any]] = []
    settings = Settings.model_validate({"network": {"allowedDomains": ["127.0.0.1"]}})
    gateway = build_http_client(settings, recorder=records.append, purpose="bench")
    plain = httpx.Client(trust_env=False)

    plain_ms: list[float] = []
    gate_ms: list[float] = []
    for _ in range(args.rounds):
        plain_ms.append(_time(plain, url, args.requests))
        gate_ms.append(_time(gateway, url, args.requests))
    p, g = statistics.median(plain_ms), statistics.median(gate_ms)
    print(f"requests per round: {args.requests}, rounds: {args.rounds} (median shown)")
    print(f"plain httpx.Client : {p:.3f} ms/request")
    print(f"gateway client     : {g:.3f} ms/request (audit records written: {len(records)})")
    print(f"overhead           : {g - p:+.3f} ms/request, ratio {g / p:.2f}x")
    server.shutdown()


if __name__ == "__main__":
    main()
