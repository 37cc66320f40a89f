"""The ``settings.json`` schema (contract: ARCHITECTURE.md §3.2), camelCase on disk.

Unknown keys are errors (``extra="forbid"``) so that a typo never silently weakens a setting.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", validate_assignment=True
    )


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


class NetworkSettings(_Model):
    allowed_domains: list[str] = Field(default_factory=list)
    denied_domains: list[str] = Field(default_factory=list)
    block_all_others: bool = True
    require_proxy: bool = False
    proxy_url: str | None = None
    min_tls_version: Literal["1.2", "1.3"] = "1.3"
    pins: dict[str, list[str]] = Field(default_factory=dict)
    allow_private_addresses: list[str] = Field(default_factory=list)


class DataResidencySettings(_Model):
    region: str | None = None
    enforce_region: bool = False


class FolderGrant(_Model):
    path: str
    access: Literal["read", "write"] = "read"


class PermissionsSettings(_Model):
    folders: list[FolderGrant] = Field(default_factory=list)
    allow: list[str] = Field(default_factory=list)
    ask: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)
    deny_read: list[str] = Field(default_factory=list)


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


class SandboxSettings(_Model):
    mode: Literal["bubblewrap", "none"] = "bubblewrap"
    default_timeout_s: float = Field(default=120.0, gt=0)
    max_timeout_s: float = Field(default=600.0, gt=0)
    output_limit: int = Field(default=256_000, ge=1_000)
    memory_mb: int = Field(default=2048, ge=64)
    max_processes: int = Field(default=256, ge=8)
    max_file_size_mb: int = Field(default=1024, ge=1)
    cpu_seconds: int = Field(default=300, ge=1)
    max_open_files: int = Field(default=1024, ge=32)


class Settings(_Model):
    """Everything a user can configure. Defaults are the strict ones."""

    schema_: str | None = Field(default=None, alias="$schema")
    default_provider: str = "embedded"
    providers: ProvidersSettings = Field(default_factory=ProvidersSettings)
    security_mode: bool = False
    offline_mode: bool = False
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    data_residency: DataResidencySettings = Field(default_factory=DataResidencySettings)
    permissions: PermissionsSettings = Field(default_factory=PermissionsSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    mcp_servers: dict[str, McpServerSettings] = Field(default_factory=dict)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    vault: VaultSettings = Field(default_factory=VaultSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
