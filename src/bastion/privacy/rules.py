"""Secret-detection rules: the data model and the loaders.

Bastion's own rules live as TOML data files in ``bastion/privacy/rules/``. Each ``[[rules]]``
table has::

    id           = "github-pat"              # unique, lowercase, dashes
    description  = "GitHub personal access token (classic)"
    keywords     = ["ghp_"]                  # lowercase literals for the Aho-Corasick prefilter
    regex        = '''\\b(ghp_[A-Za-z0-9]{36})\\b'''   # RE2 syntax (no lookarounds/backrefs)
    secretGroup  = 1                         # capture group holding the secret (0 = whole match)
    entropy      = 3.0                       # minimum Shannon entropy (bits/char) of the secret
    allowlist    = ['''^ghp_0+$''']          # RE2 regexes; a secret matching one is ignored
    stopwords    = ["sample"]                # substrings (case-insensitive) that disqualify
    confidence   = "high"                    # high | medium | low
    window       = 512                       # characters after a keyword the match may extend
    minClasses   = 0                         # minimum character classes (lower/upper/digit/other)
    positive     = ["token = ghp_..."]       # examples that must be found
    negative     = ["ghp_xxxxxxxx"]          # examples that must not be found

A gitleaks configuration (``[[rules]]`` with ``id``/``regex``/``secretGroup``/``entropy``/
``keywords``/``allowlist(s)``) can be loaded with :func:`load_gitleaks_toml`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import re2

from bastion.errors import BastionError

CONFIDENCES = ("low", "medium", "high")


class RuleError(BastionError):
    """A rule file or a single rule cannot be used (bad TOML, missing field, regex not RE2)."""


def re2_options() -> Any:
    """The options every Bastion RE2 pattern is compiled with."""
    opts = re2.Options()
    opts.log_errors = False
    return opts


@lru_cache(maxsize=8192)
def _compiled(pattern: str) -> Any:
    # compiled RE2 objects are immutable: validation and the scanner share one per pattern
    return re2.compile(pattern, re2_options())


def compile_re2(pattern: str, *, rule_id: str, what: str = "regex") -> Any:
    """Compile ``pattern`` with RE2, raising :class:`RuleError` naming the rule on failure."""
    try:
        return _compiled(pattern)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise RuleError(
            f"rule '{rule_id}': {what} cannot be compiled by RE2: {detail}",
            hint="RE2 does not support lookarounds ((?=…), (?!…), (?<=…), (?<!…)) or "
            "backreferences (\\1); rewrite the pattern without them",
        ) from None


@dataclass(frozen=True)
class Rule:
    """One secret-detection rule (see the module docstring for the file format)."""

    id: str
    regex: str
    description: str = ""
    keywords: tuple[str, ...] = ()
    secret_group: int | None = None
    entropy: float = 0.0
    allowlist: tuple[str, ...] = ()
    stopwords: tuple[str, ...] = ()
    confidence: str = "medium"
    window: int = 512
    min_classes: int = 0
    positive: tuple[str, ...] = field(default=(), compare=False)
    negative: tuple[str, ...] = field(default=(), compare=False)
    source: str = field(default="builtin", compare=False)

    def validate(self) -> None:
        """Raise :class:`RuleError` if the rule is unusable (compiles every regex)."""
        if not self.id:
            raise RuleError(f"a rule in {self.source} has no id")
        if self.confidence not in CONFIDENCES:
            raise RuleError(
                f"rule '{self.id}': confidence must be one of {', '.join(CONFIDENCES)}, "
                f"not {self.confidence!r}"
            )
        compiled = compile_re2(self.regex, rule_id=self.id)
        if self.secret_group is not None and self.secret_group > compiled.groups:
            raise RuleError(
                f"rule '{self.id}': secretGroup {self.secret_group} but the regex has only "
                f"{compiled.groups} group(s)"
            )
        for pattern in self.allowlist:
            compile_re2(pattern, rule_id=self.id, what="allowlist regex")


def _as_str_tuple(value: Any, *, rule_id: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RuleError(f"rule '{rule_id}': '{key}' must be a list of strings")
    return tuple(value)


def rule_from_mapping(data: Mapping[str, Any], *, source: str = "user",
                      validate: bool = True) -> Rule:
    """Build a :class:`Rule` from one ``[[rules]]`` table in Bastion's format.

    ``validate=False`` skips compiling the regexes (only for built-in rules read from the
    digest-checked cache, which were validated when it was written)."""
    rule_id = data.get("id")
    if not isinstance(rule_id, str) or not rule_id:
        raise RuleError(f"a rule in {source} has no 'id'")
    regex = data.get("regex")
    if not isinstance(regex, str) or not regex:
        raise RuleError(f"rule '{rule_id}' in {source} has no 'regex'")
    known = {
        "id", "regex", "description", "keywords", "secretGroup", "entropy", "allowlist",
        "stopwords", "confidence", "window", "minClasses", "positive", "negative", "tags",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise RuleError(f"rule '{rule_id}' in {source}: unknown key(s) {', '.join(unknown)}")
    secret_group = data.get("secretGroup")
    if secret_group is not None and (not isinstance(secret_group, int) or secret_group < 0):
        raise RuleError(f"rule '{rule_id}': secretGroup must be a non-negative integer")
    rule = Rule(
        id=rule_id,
        regex=regex,
        description=str(data.get("description", "")),
        keywords=tuple(
            k.lower() for k in _as_str_tuple(data.get("keywords"), rule_id=rule_id, key="keywords")
        ),
        secret_group=secret_group,
        entropy=float(data.get("entropy", 0.0)),
        allowlist=_as_str_tuple(data.get("allowlist"), rule_id=rule_id, key="allowlist"),
        stopwords=tuple(
            s.lower()
            for s in _as_str_tuple(data.get("stopwords"), rule_id=rule_id, key="stopwords")
        ),
        confidence=str(data.get("confidence", "medium")),
        window=int(data.get("window", 512)),
        min_classes=int(data.get("minClasses", 0)),
        positive=_as_str_tuple(data.get("positive"), rule_id=rule_id, key="positive"),
        negative=_as_str_tuple(data.get("negative"), rule_id=rule_id, key="negative"),
        source=source,
    )
    if validate:
        rule.validate()
    return rule


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # here, not at the top: the built-in rules load from their JSON cache

    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise RuleError(f"cannot read rule file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"rule file {path} is not valid TOML: {exc}") from None


def rules_from_toml_text(text: str, *, source: str) -> list[Rule]:
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"rule file {source} is not valid TOML: {exc}") from None
    return _rules_from_doc(data, source=source)


def _rules_from_doc(data: Mapping[str, Any], *, source: str,
                    validate: bool = True) -> list[Rule]:
    tables = data.get("rules", [])
    if not isinstance(tables, list):
        raise RuleError(f"rule file {source}: 'rules' must be an array of tables ([[rules]])")
    return [rule_from_mapping(t, source=source, validate=validate) for t in tables]


def load_rules(path: str | Path) -> list[Rule]:
    """Load a rule file in Bastion's own TOML format."""
    p = Path(path)
    return _rules_from_doc(_read_toml(p), source=str(p))


#: the built-in TOML files parsed once, as JSON (``json`` parses them ~15x faster than
#: ``tomllib``): used only when its digest is that of the TOML files beside it, else ignored
BUILTIN_CACHE = "_builtin.json"


def _builtin_sources() -> list[tuple[str, bytes]]:
    base = Path(__file__).with_name("rules")  # a folder beside this file, as
    return sorted((e.name, e.read_bytes())   # write_builtin_cache writes it
                  for e in base.iterdir() if e.name.endswith(".toml"))


def _sources_digest(sources: list[tuple[str, bytes]]) -> str:
    h = hashlib.sha256()
    for name, data in sources:
        h.update(name.encode("utf-8") + b"\0" + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


@lru_cache(maxsize=1)
def builtin_rules_digest() -> str:
    """SHA-256 of the built-in rule files (names and bytes): what verdicts cached across
    processes are keyed by, known without parsing or compiling a rule."""
    return _sources_digest(_builtin_sources())


def builtin_cache_text() -> str:
    """The content :data:`BUILTIN_CACHE` must have for the TOML files as they are now."""
    import tomllib

    sources = _builtin_sources()
    files = {name: tomllib.loads(data.decode("utf-8")) for name, data in sources}
    for name, doc in files.items():  # a cache is written only for rules that validate
        _rules_from_doc(doc, source=f"builtin:{name}")
    return json.dumps({"digest": _sources_digest(sources), "files": files},
                      indent=0, sort_keys=True) + "\n"


def write_builtin_cache() -> Path:
    """Rewrite :data:`BUILTIN_CACHE` after editing a built-in TOML file (a test checks it)."""
    target = Path(__file__).with_name("rules") / BUILTIN_CACHE
    target.write_text(builtin_cache_text(), encoding="utf-8")
    return target


def _cached_docs(sources: list[tuple[str, bytes]]) -> dict[str, Any] | None:
    try:
        raw = (Path(__file__).with_name("rules") / BUILTIN_CACHE).read_bytes()
        cache = json.loads(raw)
    except (OSError, ValueError):
        return None
    if not isinstance(cache, dict) or cache.get("digest") != _sources_digest(sources):
        return None
    files = cache.get("files")
    if not isinstance(files, dict) or sorted(files) != [name for name, _ in sources]:
        return None
    return files


@lru_cache(maxsize=1)
def default_rules() -> tuple[Rule, ...]:
    """Bastion's built-in rules (every ``*.toml`` in the package's ``rules`` directory).

    Read from :data:`BUILTIN_CACHE` when it matches the TOML files byte for byte (by digest),
    else parsed and validated from the TOML files themselves."""
    sources = _builtin_sources()
    docs = _cached_docs(sources)
    trusted = docs is not None
    if docs is None:
        import tomllib

        docs = {name: tomllib.loads(data.decode("utf-8")) for name, data in sources}
    rules: list[Rule] = []
    for name, doc in docs.items():
        rules.extend(_rules_from_doc(doc, source=f"builtin:{name}", validate=not trusted))
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise RuleError(f"duplicate built-in rule id '{rule.id}'")
        seen.add(rule.id)
    return tuple(rules)


# --------------------------------------------------------------------------------- gitleaks


def _gitleaks_allowlists(table: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    regexes: list[str] = []
    stopwords: list[str] = []
    blocks: list[Any] = []
    if isinstance(table.get("allowlist"), dict):
        blocks.append(table["allowlist"])
    if isinstance(table.get("allowlists"), list):
        blocks.extend(b for b in table["allowlists"] if isinstance(b, dict))
    for block in blocks:
        target = block.get("regexTarget", "secret")
        # Only secret-targeted regexes are supported; match/line targets are approximated.
        if target in ("secret", "match", "line"):
            regexes.extend(r for r in block.get("regexes", []) if isinstance(r, str))
        stopwords.extend(s for s in block.get("stopwords", []) if isinstance(s, str))
    return regexes, stopwords


def load_gitleaks_toml(path: str | Path) -> list[Rule]:
    """Load the rules of a gitleaks-format TOML configuration file.

    Supported: ``id``, ``description``, ``regex``, ``secretGroup``, ``entropy``, ``keywords``,
    per-rule ``[rules.allowlist]`` / ``[[rules.allowlists]]`` (``regexes``, ``stopwords``) and the
    global ``[allowlist]`` (applied to every rule). Rules that only match file paths (no
    ``regex``) are skipped. A regex RE2 cannot compile raises :class:`RuleError` naming the rule.
    """
    p = Path(path)
    data = _read_toml(p)
    tables = data.get("rules", [])
    if not isinstance(tables, list):
        raise RuleError(f"gitleaks file {p}: 'rules' must be an array of tables ([[rules]])")
    global_regexes, global_stop = _gitleaks_allowlists(data)
    rules: list[Rule] = []
    for table in tables:
        if not isinstance(table, dict):
            continue
        rule_id = table.get("id")
        if not isinstance(rule_id, str) or not rule_id:
            raise RuleError(f"a rule in {p} has no 'id'")
        regex = table.get("regex")
        if not isinstance(regex, str) or not regex:
            continue  # path-only rule: nothing to match in text
        regexes, stop = _gitleaks_allowlists(table)
        secret_group = table.get("secretGroup")
        entropy = table.get("entropy", 0.0)
        rule = Rule(
            id=rule_id,
            regex=regex,
            description=str(table.get("description", "")),
            keywords=tuple(
                k.lower() for k in _as_str_tuple(table.get("keywords"), rule_id=rule_id,
                                                 key="keywords")
            ),
            secret_group=int(secret_group) if secret_group else None,
            entropy=float(entropy or 0.0),
            allowlist=tuple(regexes + global_regexes),
            stopwords=tuple(s.lower() for s in stop + global_stop),
            confidence="medium",
            window=1024,
            source=f"gitleaks:{p}",
        )
        rule.validate()
        rules.append(rule)
    return rules


def merge_rules(*groups: Iterable[Rule]) -> list[Rule]:
    """Concatenate rule lists; a later rule with the same id replaces the earlier one."""
    by_id: dict[str, Rule] = {}
    for group in groups:
        for rule in group:
            by_id[rule.id] = rule
    return list(by_id.values())

