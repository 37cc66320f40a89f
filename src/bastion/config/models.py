"""The ``settings.json`` schema (contract: ARCHITECTURE.md §3.2), camelCase on disk.

Unknown keys are errors (``extra="forbid"``) so that a typo never silently weakens a setting.
"""

from __future__ import annotations

from typing import Any, Literal

from bastion.datamodel import ConfigDict, Field, Model, PrivateAttr, field_validator, to_camel


class _Model(Model):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid",
                              validate_assignment=True)


class EmbeddedProviderSettings(_Model):
    model_path: str | None = None
    context_size: int = Field(default=8192, ge=512)
    max_tokens: int = Field(default=512, ge=16)
    region: str | None = None


class EndpointProviderSettings(_Model):
    endpoint: str | None = None
    model: str | None = None
    region: str | None = None
    max_tokens: int = Field(default=1024, ge=16)
    timeout_s: float = Field(default=120.0, gt=0)


def _local() -> EndpointProviderSettings:
    return EndpointProviderSettings(endpoint="http://localhost:1234/v1", model="local-model")


def _openai() -> EndpointProviderSettings:
    return EndpointProviderSettings(endpoint="https://api.openai.com/v1", model="gpt-4o-mini")


def _anthropic() -> EndpointProviderSettings:
    return EndpointProviderSettings(
        endpoint="https://api.anthropic.com", model="claude-sonnet-4-5"
    )


class ProvidersSettings(_Model):
    embedded: EmbeddedProviderSettings = Field(default_factory=EmbeddedProviderSettings)
    local: EndpointProviderSettings = Field(default_factory=_local)
    openai: EndpointProviderSettings = Field(default_factory=_openai)
    anthropic: EndpointProviderSettings = Field(default_factory=_anthropic)


class TelemetrySettings(_Model):
    enabled: bool = True
    crash_reports: bool = False


class AuditSettings(_Model):
    enabled: bool = True
    log_path: str | None = None
    include_tool_calls: bool = True
    include_file_access: bool = True
    #: "full" (audit mode, ``--mode audit``): tool arguments and results, every file access,
    #: network request and configuration read (docs/audit.md)
    level: Literal["standard", "full"] = "standard"
    #: rotate the ``logPath`` file when it grows past this many MB (the chain continues)
    rotate_mb: float = Field(default=64.0, gt=0)


class AnomalySettings(_Model):
    """Thresholds of the anomaly detectors (docs/audit.md); a detector fires, the agent pauses."""

    enabled: bool = True
    #: "pause": ask the user (no terminal: stop the run); "record": only write the audit record
    on_anomaly: Literal["pause", "record"] = "pause"
    mass_change_files: int = Field(default=25, ge=1)
    mass_change_window_s: float = Field(default=60.0, gt=0)
    denied_attempts: int = Field(default=20, ge=1)
    denied_window_s: float = Field(default=300.0, gt=0)
    sensitive_reads: int = Field(default=5, ge=1)
    sensitive_window_s: float = Field(default=600.0, gt=0)
    egress_burst: int = Field(default=30, ge=1)
    egress_window_s: float = Field(default=10.0, gt=0)
    command_files_touched: int = Field(default=100, ge=1)
    #: file-name patterns (fnmatch, case-insensitive) that count as secret-looking; replaces
    #: the built-in list when set
    sensitive_patterns: list[str] | None = None


_HEX = set("0123456789abcdefABCDEF")


def parse_resolver(text: str) -> tuple[str, int] | None:
    """``"10.0.0.2"``, ``"10.0.0.2:5353"``, ``"::1"`` or ``"[::1]:5353"`` → (ip, port)."""
    import ipaddress

    host, port = text, 53
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            return None
        port_text = rest[1:] if rest else "53"
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        port_text = "53"
    try:
        ipaddress.ip_address(host)
        port = int(port_text)
    except ValueError:
        return None
    return (host, port) if 0 < port < 65536 else None


def _valid_pin(pin: str) -> bool:
    """An SPKI SHA-256 pin: 64 hex digits or 44 base64 characters (optional ``sha256/``)."""
    import base64
    import binascii

    body = pin.removeprefix("sha256/")
    if len(body) == 64 and set(body) <= _HEX:
        return True
    try:
        return len(base64.b64decode(body, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def _valid_domain_pattern(pattern: str) -> bool:
    # Only a leading "*." wildcard: "*.example.com" (any subdomain). Anything fancier would
    # make it too easy to allow more than intended.
    body = pattern.removeprefix("*.")
    return bool(body) and "*" not in body and "/" not in body and " " not in body


class NetworkSettings(_Model):
    allowed_domains: list[str] = Field(default_factory=list)
    denied_domains: list[str] = Field(default_factory=list)
    block_all_others: bool = True
    require_proxy: bool = False
    proxy_url: str | None = None
    min_tls_version: Literal["1.2", "1.3"] = "1.3"
    pins: dict[str, list[str]] = Field(default_factory=dict)
    allow_private_addresses: list[str] = Field(default_factory=list)
    #: extra PEM bundle of trusted CAs, added to certifi's (a corporate CA, or tests)
    ca_bundle: str | None = None
    #: plain http:// to a public address sends everything readable to every hop on the way
    allow_cleartext_http: bool = False
    #: the gateway's resolver: "system", or resolver addresses ("127.0.0.53", "10.0.0.2:53",
    #: "[::1]:5353") queried directly — never falling back to the system resolver
    dns: Literal["system"] | list[str] = "system"

    @field_validator("dns")
    @classmethod
    def _check_dns(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list):
            if not value:
                raise ValueError('empty list (use "system" or resolver addresses)')
            for entry in value:
                if parse_resolver(entry) is None:
                    raise ValueError(f"{entry!r} is not an IP address or IP:port")
        return value

    @field_validator("allowed_domains", "denied_domains", "allow_private_addresses")
    @classmethod
    def _check_domains(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if not _valid_domain_pattern(pattern):
                raise ValueError(
                    f"{pattern!r} is not a host name, IP address or '*.domain' wildcard"
                )
        return value

    @field_validator("pins")
    @classmethod
    def _check_pins(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for host, pins in value.items():
            if not pins:
                raise ValueError(f"pins for {host!r}: empty list (remove the host instead)")
            for pin in pins:
                if not _valid_pin(pin):
                    raise ValueError(
                        f"pin {pin!r} for {host!r} is not an SPKI SHA-256 digest "
                        "(64 hex digits or base64)"
                    )
        return value

    @field_validator("proxy_url")
    @classmethod
    def _check_proxy(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("proxyUrl must start with http:// or https://")
        return value


class DataResidencySettings(_Model):
    region: str | None = None
    enforce_region: bool = False
    #: regions of hosts that are not provider endpoints (e.g. {"docs.example.eu": "eu"}),
    #: exact names or "*.domain" wildcards; a provider's own ``region`` covers its endpoint
    endpoint_regions: dict[str, str] = Field(default_factory=dict)


class FolderGrant(_Model):
    path: str
    access: Literal["read", "write"] = "read"


class PermissionsSettings(_Model):
    folders: list[FolderGrant] = Field(default_factory=list)
    allow: list[str] = Field(default_factory=list)
    ask: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)
    deny_read: list[str] = Field(default_factory=list)
    #: false: ``--approve auto`` is refused (an organisation's managed settings may say so)
    allow_auto_approve: bool = True


class RetentionSettings(_Model):
    days: int | None = Field(default=None, ge=1)


class McpServerSettings(_Model):
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    url: str | None = None
    enabled: bool = True


class AgentSettings(_Model):
    max_steps: int = Field(default=25, ge=1, le=500)
    tool_output_limit: int = Field(default=32_000, ge=1_000)


class VaultSettings(_Model):
    slot: Literal["auto", "keychain", "passphrase"] = "auto"
    #: idle seconds an unlocked passphrase-slot key stays cached in the session keyring
    #: (``bastion lock`` forgets it); 0 turns the cache off
    key_cache_s: int = Field(default=900, ge=0)


class SandboxSettings(_Model):
    mode: Literal["bubblewrap", "none"] = "bubblewrap"
    default_timeout_s: float = Field(default=120.0, gt=0)
    max_timeout_s: float = Field(default=600.0, gt=0)
    output_limit: int = Field(default=256_000, ge=1_000)
    memory_mb: int = Field(default=2048, ge=64)
    max_processes: int = Field(default=256, ge=8)
    max_file_size_mb: int = Field(default=1024, ge=1)
    #: CPU seconds for the command as a whole (all its processes together)
    cpu_seconds: int = Field(default=300, ge=1)
    max_open_files: int = Field(default=1024, ge=32)
    #: new files one command may create (whole command; stops it beyond)
    max_files: int = Field(default=50_000, ge=10)
    #: default wall clock when nobody watches (--approve auto|never, no terminal, exec)
    unattended_timeout_s: float = Field(default=30.0, gt=0)
    #: files in the grants that hold secrets are hidden from commands (masked, read-only)
    hide_secret_files: bool = True
    #: unattended, what the journal cannot keep is read-only for commands except these
    #: folder names (caches that tools regenerate); add ".git" to let unattended runs commit
    unattended_writable_unjournaled: list[str] = Field(default_factory=lambda: [
        "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", ".cache"])
    #: second layer inside bubblewrap (writes only beneath write grants); costs one
    #: interpreter start per command
    landlock: bool = True
    #: CPU seconds an MCP stdio server may use over its lifetime (all its processes together;
    #: memory and processes are bounded by ``memoryMb``/``maxProcesses`` like a command)
    mcp_cpu_seconds: int = Field(default=1800, ge=1)


class SyncSettings(_Model):
    """Where ``bastion sync`` keeps its ciphertext; never credentials or keys (those are in
    the vault: ``bastion keys set s3``, or the AWS environment variables)."""

    backend: Literal["s3", "folder"] | None = None
    endpoint: str | None = None
    bucket: str | None = None
    prefix: str = ""
    folder: str | None = None
    region: str | None = None


class Settings(_Model):
    """Everything a user can configure. Defaults are the strict ones."""

    schema_: str | None = Field(default=None, alias="$schema")
    default_provider: str = "embedded"
    providers: ProvidersSettings = Field(default_factory=ProvidersSettings)
    security_mode: bool = False
    offline_mode: bool = False
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    anomaly: AnomalySettings = Field(default_factory=AnomalySettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    data_residency: DataResidencySettings = Field(default_factory=DataResidencySettings)
    permissions: PermissionsSettings = Field(default_factory=PermissionsSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    mcp_servers: dict[str, McpServerSettings] = Field(default_factory=dict)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    vault: VaultSettings = Field(default_factory=VaultSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    #: how these settings were merged (config/layers.py); None for a single file
    _layers: Any = PrivateAttr(default=None)
