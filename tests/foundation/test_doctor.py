"""`bastion doctor` reports each component and says what is missing."""

import json
from pathlib import Path

from helpers import run_bastion


def test_doctor_reports_every_component(bastion_home: Path) -> None:
    r = run_bastion("doctor")
    assert r.returncode == 0, r.stderr
    for what in ("data directory", "master key", "database", "sandbox", "embedded model",
                 "network"):
        assert f"{what}:" in r.stdout
    assert "allowed domains: (none)" in r.stdout
    assert not (bastion_home / "bastion.db").exists()  # reporting creates nothing


def test_doctor_names_a_missing_model(bastion_home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    (bastion_home / "settings.json").write_text(
        json.dumps({"providers": {"embedded": {"modelPath": str(missing)}}}))
    r = run_bastion("doctor")
    line = next(x for x in r.stdout.splitlines() if "embedded model:" in x)
    assert "missing" in line and f"{missing} not found" in line


def test_doctor_finds_a_damaged_database_and_says_so_in_json(bastion_home: Path) -> None:
    assert run_bastion("sessions", "list").returncode == 0
    r = run_bastion("doctor", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    checks = {c["check"]: c for c in json.loads(r.stdout)}
    assert checks["database"]["status"] == "ok" and "integrity" in checks["database"]["detail"]
    assert checks["data directory"]["status"] == "ok"
    db = bastion_home / "bastion.db"
    data = db.read_bytes()
    db.write_bytes(data[: len(data) - 100])  # a truncated copy
    r = run_bastion("doctor", "--json")
    assert r.returncode == 1
    checks = {c["check"]: c for c in json.loads(r.stdout)}
    assert checks["database"]["status"] == "broken" and "truncated" in checks["database"]["detail"]


def _endpoint_check(bastion_home: Path, settings: dict[str, object]) -> dict[str, str]:
    (bastion_home / "settings.json").write_text(json.dumps(settings))
    r = run_bastion("doctor", "--json")
    checks = {c["check"]: c for c in json.loads(r.stdout)}
    return checks["provider endpoint"]


def test_doctor_asks_the_provider_endpoint_through_the_gateway(bastion_home: Path) -> None:
    import http.server
    import socket
    import threading

    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    local = {"defaultProvider": "local", "providers": {"local": {"endpoint": url}}}
    try:
        check = _endpoint_check(bastion_home, local)
        assert check["status"] == "ok" and "reachable (HTTP 200)" in check["detail"]
        assert hits == ["/v1/models"]
        # offline mode keeps a loopback model reachable ...
        check = _endpoint_check(bastion_home, {**local, "offlineMode": True})
        assert check["status"] == "ok" and hits == ["/v1/models", "/v1/models"]
    finally:
        server.shutdown()
    # ... and refuses a remote one before any lookup or connection
    check = _endpoint_check(bastion_home, {"defaultProvider": "openai", "offlineMode": True})
    assert check["status"] == "warn" and "refuses" in check["detail"]
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    check = _endpoint_check(bastion_home, {"defaultProvider": "local",
                                           "providers": {"local": {"endpoint": dead}}})
    assert check["status"] == "warn" and "not reachable" in check["detail"]
