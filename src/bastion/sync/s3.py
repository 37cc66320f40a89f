"""S3-compatible object storage (AWS S3, Cloudflare R2, MinIO, SeaweedFS) through boto3.

boto3 builds and signs the requests; the bytes travel through Bastion's egress gateway, not
through botocore's own HTTP stack: a ``before-send`` hook hands every signed request to the
``httpx`` client that :mod:`bastion.net` builds, so the allowlist, offline mode, TLS ≥ 1.3,
certificate pins, data residency, DNS-rebinding checks and the network audit record apply
to sync exactly as to a provider. The endpoint URL is a configured endpoint: reachable
without an allowlist entry, and a loopback address only because the user wrote it.
"""

from __future__ import annotations

import io
import re
from typing import Any

import httpx

from bastion.config import Settings

from .backends import SyncBackendError, SyncConflict, check_name

_NAME = re.compile(r"^[0-9a-f]{64}$")


class _Raw(io.BytesIO):
    """What botocore expects as a response's raw stream."""

    def stream(self, amt: int | None = None, decode_content: bool = True) -> Any:
        del amt, decode_content
        yield self.getvalue()


def _via_gateway(client: httpx.Client) -> Any:
    from botocore.awsrequest import AWSResponse

    def send(request: Any, **_: Any) -> Any:
        body = request.body
        if hasattr(body, "read"):
            if hasattr(body, "seek"):
                body.seek(0)
            body = body.read()
        headers = {k: (v.decode() if isinstance(v, bytes) else str(v))
                   for k, v in request.headers.items()}
        headers["Accept-Encoding"] = "identity"
        try:
            resp = client.request(request.method, request.url, headers=headers,
                                  content=body or b"")
        except httpx.HTTPError as exc:
            raise SyncBackendError(f"cannot reach the sync endpoint: {exc}") from None
        return AWSResponse(str(resp.url), resp.status_code, dict(resp.headers),
                           _Raw(resp.content))

    return send


def _normalise_prefix(prefix: str) -> str:
    prefix = prefix.strip().strip("/")
    return f"{prefix}/" if prefix else ""


class S3Backend:
    def __init__(self, settings: Settings, endpoint: str, bucket: str, prefix: str,
                 access_key: str, secret_key: str, region: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        from bastion.net import build_http_client

        self.bucket = bucket
        self.prefix = _normalise_prefix(prefix)
        self.description = f"s3 {endpoint.rstrip('/')}/{bucket}/{self.prefix}"
        # the bucket's region is the endpoint's data-residency region (dataResidency)
        self._http = build_http_client(settings, purpose="sync", endpoints=[endpoint],
                                       region=region, timeout=60.0)
        session = boto3.session.Session(aws_access_key_id=access_key,
                                        aws_secret_access_key=secret_key,
                                        region_name=region or "us-east-1")
        self._s3 = session.client(
            "s3", endpoint_url=endpoint,
            config=Config(s3={"addressing_style": "path"},
                          retries={"max_attempts": 3, "mode": "standard"},
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"))
        self._s3.meta.events.register("before-send.s3", _via_gateway(self._http))

    def _key(self, name: str) -> str:
        return self.prefix + check_name(name)

    def _call(self, op: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._s3, op)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchKey", "404", "NotFound"):
                return None
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
                raise SyncConflict(f"{self.description}: {kwargs.get('Key', '')} changed while "
                                   "syncing (conditional write refused)") from None
            raise SyncBackendError(f"{self.description}: {op} failed: {code or status}: "
                                   f"{exc.response.get('Error', {}).get('Message', '')}") from None
        except BotoCoreError as exc:
            raise SyncBackendError(f"{self.description}: {op} failed: {exc}") from None

    def get(self, name: str) -> tuple[bytes, str] | None:
        resp = self._call("get_object", Key=self._key(name))
        if resp is None:
            return None
        return resp["Body"].read(), str(resp["ETag"])

    def create(self, name: str, data: bytes) -> None:
        self._call("put_object", Key=self._key(name), Body=data, IfNoneMatch="*")

    def replace(self, name: str, data: bytes, etag: str | None) -> str:
        cond = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        resp = self._call("put_object", Key=self._key(name), Body=data, **cond)
        return str(resp["ETag"])

    def delete(self, name: str) -> None:
        self._call("delete_object", Key=self._key(name))

    def list(self) -> list[str]:
        names: list[str] = []
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            resp = self._call("list_objects_v2", Prefix=self.prefix, **extra) or {}
            for obj in resp.get("Contents", []):
                key = str(obj["Key"])[len(self.prefix):]
                if _NAME.match(key):
                    names.append(key)
            if not resp.get("IsTruncated"):
                return sorted(names)
            token = resp.get("NextContinuationToken")

    def close(self) -> None:
        self._http.close()
