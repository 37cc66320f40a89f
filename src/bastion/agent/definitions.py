"""Agent definitions: ``<workspace>/.bastion/agents/NAME.yaml``, user ones, and built-ins.

A definition can choose a prompt, a model, a subset of the session's tools and a *narrower*
policy. It can never widen: a folder grant outside the session's grants, write access where
the session only reads, or an allow rule the session does not already have is refused when
the definition is loaded, with an error naming the file and the field.

Precedence (same name): project > user (``BASTION_HOME/agents``) > built-in. A definition from
an untrusted project (``bastion trust`` not run, or its files changed since) is loaded but
reduced to read-only tools and read-only grants, and its ``model.provider`` is ignored — an
untrusted file must not decide where the user's code is sent.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from bastion import safefs
from bastion.datamodel import (
    ConfigDict,
    Field,
    Model,
    ValidationError,
    field_validator,
    to_camel,
)
from bastion.errors import BastionError
from bastion.policy import Grant, Policy, Rule, RuleError, TrustStore

#: tool names a definition may list (contract §3.4); MCP tools are ``mcp__<server>__<tool>``
BUILTIN_TOOL_NAMES: tuple[str, ...] = (
    "read_file", "write_file", "edit_file", "list_dir", "glob", "grep", "delete_file",
    "move_file", "run_command", "fetch_url",
)
READ_ONLY_TOOL_NAMES: frozenset[str] = frozenset({"read_file", "list_dir", "glob", "grep"})
BUILTIN_DIR = Path(__file__).parent / "builtin"
PROJECT_DIR = ".bastion"

Origin = Literal["builtin", "user", "project"]


class DefinitionError(BastionError):
    """A definition file that does not parse, does not validate, or tries to widen access."""


class _Def(Model):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ModelSpec(_Def):
    provider: str | None = None
    id: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=16)


class FolderSpec(_Def):
    path: str
    access: Literal["read", "write"] = "read"


class PermissionSpec(_Def):
    """Same shape as ``settings.json`` ``permissions``; every entry may only narrow."""

    folders: list[FolderSpec] = Field(default_factory=list)
    allow: list[str] = Field(default_factory=list)
    ask: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)
    deny_read: list[str] = Field(default_factory=list)


def _check_tool_name(name: str) -> str:
    if name in BUILTIN_TOOL_NAMES or name == "delegate":
        return name
    if name.startswith("mcp__") and len(name.split("__")) == 3 and all(name.split("__")):
        return name  # an MCP tool or a pattern like mcp__github__*
    raise ValueError(f"unknown tool {name!r}; expected one of {', '.join(BUILTIN_TOOL_NAMES)} "
                     "or mcp__<server>__<tool>")


class AgentDefinition(_Def):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    description: str = ""
    enabled: bool = True
    model: ModelSpec | None = None
    prompt: str | None = None
    #: allowlist of tool names (``None``: every tool of the session)
    tools: list[str] | None = None
    permissions: PermissionSpec = Field(default_factory=PermissionSpec)

    @field_validator("tools")
    @classmethod
    def _tools(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for name in value:
                _check_tool_name(name)
        return value

    def allows_tool(self, tool: str) -> bool:
        if self.tools is None:
            return True
        return any(tool == t or fnmatch.fnmatchcase(tool, t) for t in self.tools)


@dataclass
class LoadedAgent:
    """A definition plus where it came from and what the loader did to it."""

    definition: AgentDefinition
    origin: Origin
    source: Path | None
    #: False for a definition from an untrusted project: read-only tools and grants only
    trusted: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.definition.name

    def where(self) -> str:
        return str(self.source) if self.source else f"built-in {self.name}"

    def allows_tool(self, tool: str, read_only: bool) -> bool:
        if not self.trusted and not read_only:
            return False
        return self.definition.allows_tool(tool)


# ------------------------------------------------------------------------------ parsing

def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def describe_errors(source: Path | str, exc: ValidationError) -> str:
    """``FILE: field 'a.b': expected ... (got ...)`` for each problem."""
    problems = []
    for err in exc.errors():
        where = _loc(tuple(err["loc"]))
        if err["type"] == "extra_forbidden":
            problems.append(f"field '{where}': unknown field")
        elif err["type"] == "missing":
            problems.append(f"field '{where}': required field is missing")
        else:
            msg = err["msg"].removeprefix("Value error, ").removeprefix("Input should be ")
            got = repr(err.get("input"))[:60]
            problems.append(f"field '{where}': expected {msg[0].lower() + msg[1:]} (got {got})")
    return f"{source}: " + "; ".join(problems)


#: a definition is a few lines of YAML; anything near this is not one
MAX_DEFINITION_BYTES = 256 * 1024


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases (``*name``). A definition has no use for them, and nine nested
    aliases of nine items each (a "billion laughs" file in a cloned project's ``.bastion/``)
    expand to 387 million values the moment anything walks the loaded data."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not accepted in definitions", event.start_mark)
        return super().compose_node(parent, index)


def read_yaml(path: Path) -> dict[str, Any]:
    if path.is_symlink():
        raise DefinitionError(f"{path}: refusing a symbolic link")
    try:
        with safefs.open_regular(path) as fh:  # a FIFO is refused, not awaited
            raw = fh.read(MAX_DEFINITION_BYTES + 1)
        if len(raw) > MAX_DEFINITION_BYTES:
            raise DefinitionError(f"{path}: larger than {MAX_DEFINITION_BYTES // 1024} KiB; "
                                  "not a definition")
        data = yaml.load(raw.decode("utf-8"), Loader=_NoAliasLoader)  # a SafeLoader
    except OSError as exc:
        raise DefinitionError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise DefinitionError(f"{path}: not UTF-8 (byte {exc.start}); save it as UTF-8") from None
    except RecursionError:
        raise DefinitionError(f"{path}: nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DefinitionError(f"{path}: not valid YAML{where}: "
                              f"{getattr(exc, 'problem', None) or exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DefinitionError(f"{path}: expected a mapping (name: ..., prompt: ...) at the top level")
    return data


def parse_agent(data: dict[str, Any], source: Path | str, default_name: str | None = None
                ) -> AgentDefinition:
    data = dict(data)
    if default_name is not None:
        data.setdefault("name", default_name)
    try:
        definition = AgentDefinition.model_validate(data)
    except ValidationError as exc:
        raise DefinitionError(describe_errors(source, exc)) from None
    if default_name is not None and definition.name != default_name:
        raise DefinitionError(f"{source}: field 'name': expected {default_name!r} (the file name), "
                              f"got {definition.name!r}")
    return definition


def load_agent_file(path: Path) -> AgentDefinition:
    return parse_agent(read_yaml(path), path, path.stem)


# ------------------------------------------------------------------------------ narrowing

def _grant_path(raw: str, workspace: Path) -> Path:
    text = os.path.expanduser(raw)
    return Path(os.path.realpath(text if os.path.isabs(text) else workspace / text))


def check_narrowing(perms: PermissionSpec, base: Policy, source: str) -> None:
    """Refuse every entry of ``perms`` that would give more than ``base`` gives."""
    workspace = base.workspace
    for i, folder in enumerate(perms.folders):
        path = _grant_path(folder.path, workspace)
        held = base.grant_for(path)
        where = f"{source}: field 'permissions.folders[{i}]'"
        if held is None:
            raise DefinitionError(f"{where}: {folder.path} is outside the session's granted folders; "
                                  "a definition can only narrow the session's grants")
        if folder.access == "write" and held.access != "write":
            raise DefinitionError(f"{where}: write access to {folder.path}, but the session only "
                                  f"reads it ({held.path}); a definition can only narrow")
        if folder.access == "write" and base.mode == "restricted":
            raise DefinitionError(f"{where}: write access in restricted mode")
    have = {r.text for r in base.rules if r.verdict == "allow"}
    for verdict in ("allow", "ask", "deny"):
        for i, text in enumerate(getattr(perms, verdict)):
            try:
                rule = Rule.parse(text, verdict, source, workspace, base.home)
            except RuleError as exc:
                raise DefinitionError(f"{source}: field 'permissions.{verdict}[{i}]': "
                                      f"expected Tool or Tool(specifier) ({exc})") from None
            if verdict == "allow" and rule.text not in have:
                raise DefinitionError(
                    f"{source}: field 'permissions.allow[{i}]': {text!r} is not allowed by the "
                    "session's own rules; a definition can only narrow (use ask or deny, or add "
                    "the allow rule to your settings)")


def narrow_policy(base: Policy, loaded: LoadedAgent) -> Policy:
    """A policy for one agent: the session's, minus what the definition takes away.

    Built with :meth:`Policy.narrowed`, so it can only narrow: grants are intersected with the
    session's, rules and deny-read patterns are added, the tool list restricts, an untrusted
    project's agent is read-only (restricted mode), and every decision is also the session's
    (the stricter wins). It keeps the session's approver, decision hooks (so every decision is
    still audited) and approvals ("this session" answers carry over).
    """
    perms = loaded.definition.permissions
    source = f"agent {loaded.where()}"
    check_narrowing(perms, base, source)
    grants: list[Grant] | None = None
    if perms.folders:
        grants = [Grant(_grant_path(f.path, base.workspace), f.access, source)
                  for f in perms.folders]
    if not loaded.trusted:
        grants = [Grant(g.path, "read", f"{g.source}; untrusted project agent: read-only")
                  for g in (grants if grants is not None else base.grants or [])]
    rules = [Rule.parse(t, verdict, source, base.workspace, base.home)
             for verdict in ("deny", "ask") for t in getattr(perms, verdict)]
    return base.narrowed(grants=grants, rules=rules, tools=loaded.definition.tools,
                         mode=None if loaded.trusted else "restricted",
                         deny_read=perms.deny_read, notes=loaded.notes)


# ------------------------------------------------------------------------------ catalogue

def project_trusted(workspace: Path | None, bastion_home: Path) -> bool:
    """Whether the project's own configuration is trusted (pinned and unchanged)."""
    if workspace is None:
        return False
    return TrustStore(bastion_home).state(workspace) == "trusted"


def _yaml_files(folder: Path) -> list[Path]:
    if not folder.is_dir() or folder.is_symlink():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


@dataclass
class AgentCatalog:
    """Every visible definition by name; invalid ones are kept as errors, never skipped."""

    agents: dict[str, LoadedAgent] = field(default_factory=dict)
    errors: dict[str, DefinitionError] = field(default_factory=dict)
    #: (origin, file) per name for errors, so ``list`` can show where a broken one lives
    error_sources: dict[str, tuple[Origin, Path]] = field(default_factory=dict)

    def get(self, name: str) -> LoadedAgent:
        if name in self.errors:
            raise self.errors[name]
        loaded = self.agents.get(name)
        if loaded is None:
            known = ", ".join(sorted(self.agents)) or "(none)"
            raise DefinitionError(f"unknown agent {name!r}; available: {known}",
                                  hint="bastion agents list")
        if not loaded.definition.enabled:
            raise DefinitionError(f"agent {name!r} is disabled ({loaded.where()}: enabled: false)")
        return loaded

    def names(self) -> list[str]:
        return sorted({*self.agents, *self.errors})


def load_agents(workspace: Path | None, bastion_home: Path, *, policy: Policy | None = None,
                trusted: bool | None = None) -> AgentCatalog:
    """Built-in, then user, then project definitions; later ones replace earlier ones.

    With ``policy`` each definition is checked against it (a widening one becomes an error).
    ``trusted`` overrides the trust-store lookup for the project (tests, ``validate``).
    """
    catalog = AgentCatalog()
    if trusted is None:
        trusted = project_trusted(workspace, bastion_home)
    layers: list[tuple[Origin, Path]] = [("builtin", BUILTIN_DIR / "agents"),
                                         ("user", bastion_home / "agents")]
    if workspace is not None:
        layers.append(("project", workspace / PROJECT_DIR / "agents"))
    for origin, folder in layers:
        for path in _yaml_files(folder):
            name = path.stem
            catalog.errors.pop(name, None)
            catalog.agents.pop(name, None)
            try:
                definition = load_agent_file(path)
                is_trusted = origin != "project" or trusted
                loaded = LoadedAgent(definition, origin, None if origin == "builtin" else path,
                                     trusted=is_trusted)
                if not is_trusted:
                    loaded.notes.append(f"agent {name!r} comes from an untrusted project "
                                        f"({path}): read-only tools and folders until "
                                        "`bastion trust`")
                if policy is not None:
                    check_narrowing(definition.permissions, policy, str(path))
                catalog.agents[name] = loaded
            except DefinitionError as exc:
                catalog.errors[name] = exc
                catalog.error_sources[name] = (origin, path)
    return catalog
