"""Per-request overhead of the egress gateway client vs a plain httpx.Client (loopback only).

Both clients send the same keep-alive GETs to the same loopback server in the same run,
interleaved in rounds so that drift (CPU frequency, other load) hits both equally. The server
runs in its own process so that it does not compete with the client for the GIL.

    .venv/bin/python bench/bench_gateway.py [--requests 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import http.server
import multiprocessing
import statistics
import time
from typing import Any

import httpx

from bastion.config import Settings
from bastion.net import build_http_client

BODY = b"x" * 512


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else header+body writes meet delayed ACKs (40 ms)

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


def _serve(port_queue: Any) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port_queue.put(server.server_address[1])
    server.serve_forever()


def _time(client: httpx.Client, url: str, n: int) -> tuple[float, float]:
    """(wall ms, client CPU ms) per request. CPU time is this process only (the server runs
    elsewhere), so it shows the client-side cost even on a loaded machine."""
    client.get(url).read()  # warm: connection established, pools filled
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        client.get(url)
    return ((time.perf_counter() - wall) / n * 1000, (time.process_time() - cpu) / n * 1000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    ports: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(ports,), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{ports.get(timeout=10)}/v1/models?x=1"

    records: list[dict[str, Any]] = []
    settings = Settings.model_validate({"network": {"allowedDomains": ["127.0.0.1"]}})
    gateway = build_http_client(settings, recorder=records.append, purpose="bench")
    plain = httpx.Client(trust_env=False)

    plain_runs: list[tuple[float, float]] = []
    gate_runs: list[tuple[float, float]] = []
    for _ in range(args.rounds):
        plain_runs.append(_time(plain, url, args.requests))
        gate_runs.append(_time(gateway, url, args.requests))
    print(f"requests per round: {args.requests}, rounds: {args.rounds} (medians shown); "
          f"audit records written: {len(records)}")
    for i, label in ((0, "wall time"), (1, "client CPU")):
        p = statistics.median(r[i] for r in plain_runs)
        g = statistics.median(r[i] for r in gate_runs)
        print(f"{label:10}: plain {p:.3f} ms, gateway {g:.3f} ms, "
              f"overhead {g - p:+.3f} ms/request, ratio {g / p:.2f}x")
    server.terminate()
    server.join()


if __name__ == "__main__":
    main()
