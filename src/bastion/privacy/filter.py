"""The session-level privacy facade: everything bound for a provider goes through one of these."""

from __future__ import annotations

import copy
import json
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bastion.privacy.checks import raw_matcher
from bastion.privacy.detector import LONG_MATCH, Finding, SecretScanner, default_scanner
from bastion.privacy.known import KnownValues, credential_env_values
from bastion.privacy.outbound import (
    EVERYWHERE,
    OUTBOUND_BUDGET_BITS,
    STREAM_NEW,
    OutboundStreams,
    data_tokens,
    destination,
)
from bastion.privacy.paths import PathScrubber
from bastion.privacy.pii import find_pii
from bastion.privacy.placeholders import (
    KINDS,
    PLACEHOLDER_LOOSE_RE,
    PLACEHOLDER_RE,
    PlaceholderMap,
)
from bastion.privacy.response import (
    HTML_IMG,
    MD_IMAGE_REF,
    MD_INLINE,
    MD_REFDEF,
    URL_RE,
    LeakFinding,
    ResponseScan,
    domain_allowed,
    url_carries_data,
    url_host,
)
from bastion.privacy.rules import Rule, compile_re2
from bastion.privacy.textio import regex_safe, unquote
from bastion.privacy.views import reshaped, view_findings, view_scan, views

_PRIORITY = {"SECRET": 2, "PII": 1}
_RECENT = 256  # redaction results remembered (the history is re-filtered before each request)
_RECENT_MAX_CHARS = 1 << 20


class PrivacyFilter:
    """Redaction state for one session.

    ``known_values``: values to always redact — a mapping ``{name: value}`` (the name becomes the
    placeholder label, e.g. ``OPENAI_API_KEY`` → ``[[SECRET:openai-api-key:1]]``) or an iterable of
    values. ``include_env=True`` also registers credential-named environment variables.
    ``security_mode`` adds path scrubbing and PII redaction. ``allowed_domains`` is the network
    allowlist used by :meth:`scan_response`.
    """

    def __init__(
        self,
        known_values: Mapping[str, str] | Iterable[str] | None = None,
        *,
        security_mode: bool = False,
        workspace: Path | str | None = None,
        allowed_domains: Sequence[str] = (),
        rules: Sequence[Rule] | None = None,
        include_env: bool = False,
        home: Path | None = None,
        user: str | None = None,
        unattended: bool = False,
    ) -> None:
        self.security_mode = security_mode
        self.workspace = Path(workspace) if workspace is not None else None
        self.allowed_domains = tuple(allowed_domains)
        self._scanner = default_scanner() if rules is None else SecretScanner(rules)
        self._known = KnownValues()
        self._map = PlaceholderMap()
        self._recent: OrderedDict[tuple[str, int], str] = OrderedDict()
        # what the model sent to each destination; unattended, with a high-entropy budget
        self._outbound = OutboundStreams(OUTBOUND_BUDGET_BITS if unattended else None)
        if known_values is not None:
            self._known.add_many(known_values)
        if include_env:
            self._known.add_many(credential_env_values())
        self._paths = PathScrubber(
            self._placeholder_path, workspace=self.workspace, home=home, user=user
        )

    # ---------------------------------------------------------------------------- registry

    def add_known_value(self, value: str, label: str = "known") -> None:
        """Redact ``value`` (and its encodings) from now on."""
        self._known.add(value, label)

    def _placeholder_path(self, value: str, kind: str) -> str:
        return self._map.placeholder_for(value, kind)

    # ------------------------------------------------------------------------------ redact

    def find_secrets(self, text: str) -> list[Finding]:
        """Rule findings in ``text`` (does not register them)."""
        return self._scanner.scan(text)

    def _secret_spans(self, text: str) -> list[tuple[int, int, str, str, str]]:
        """``(start, end, label, kind, secret)`` of every rule finding and known value in
        ``text`` and in each of its views (escapes decoded, blobs decoded, line prefixes
        stripped, continuations joined); spans are of ``text``. Every rule finding becomes a
        known value for the rest of the session."""
        out: list[tuple[int, int, str, str, str]] = []
        found, shapes = self._scanner.scan_shapes(text)
        for f in found:
            self._learn(f)
            out.append((f.start, f.end, f.rule_id, "secret", f.secret))
        for m in self._known.find(text):
            label = m.label if m.encoding == "raw" else f"{m.label}-{m.encoding}"
            out.append((m.start, m.end, label, "known-secret", m.text))
        # (rot13 / reversed views without a rule keyword are not built: known values are not
        # matched in those shapes anyway, see ``reshaped``)
        for v in views(text, shapes=shapes):
            for f, off in view_findings(view_scan(self._scanner, v), v):
                if v.kind == "join" and not v.crosses_join(f.start + off, f.end + off):
                    continue
                self._learn(f)
                s, e = v.span(f.start + off, f.end + off)
                out.append((s, e, f.rule_id, "secret", f.secret))
            if reshaped(v):
                continue  # known values are indexed reversed and rot13'd already
            for m, off in view_findings(self._known.find, v):
                if v.kind == "join" and not v.crosses_join(m.start + off, m.end + off):
                    continue
                s, e = v.span(m.start + off, m.end + off)
                out.append((s, e, f"{m.label}-{v.kind}", "known-secret", m.text))
        return out

    def _learn(self, f: Finding) -> None:
        """A found secret becomes a known value, unless it is a match longer than
        ``LONG_MATCH`` (redacted whole where it stands; as a known value it would make every
        later text that shares its period verify up to its length at each chunk)."""
        if len(f.secret) <= LONG_MATCH:
            self._known.add(f.secret, f.rule_id)

    def _spans(self, text: str, *, pii: bool) -> list[tuple[int, int, str, str]]:
        spans = [(s, e, "SECRET", label) for s, e, label, _, _ in self._secret_spans(text)]
        if pii:
            for p in find_pii(text):
                spans.append((p.start, p.end, "PII", p.kind))
        return spans

    def _apply(self, text: str, spans: list[tuple[int, int, str, str]]) -> str:
        if not spans:
            return text
        spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
        merged: list[list[Any]] = []
        for start, end, kind, label in spans:
            if merged and start < merged[-1][1]:
                cur = merged[-1]
                if end > cur[1]:
                    cur[1] = end
                if _PRIORITY[kind] > _PRIORITY[cur[2]]:
                    cur[2], cur[3] = kind, label
                continue
            merged.append([start, end, kind, label])
        out: list[str] = []
        pos = 0
        for start, end, kind, label in merged:
            out.append(text[pos:start])
            out.append(self._map.placeholder_for(text[start:end], kind, label))
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def redact(self, text: str) -> str:
        """``text`` with every secret (and, in security mode, path and PII) replaced."""
        if not text:
            return text
        # the history is filtered again before every request: remember recent results, valid
        # while no known value has been added since (values are only ever added)
        key = (text, len(self._known))
        cached = self._recent.get(key)
        if cached is not None:
            self._recent.move_to_end(key)
            return cached
        result = self._apply(text, self._spans(text, pii=self.security_mode))
        if self.security_mode:
            result = self._scrub_paths(result)
        if len(text) <= _RECENT_MAX_CHARS:
            self._recent[(text, len(self._known))] = result
            if len(self._recent) > _RECENT:
                self._recent.popitem(last=False)
        return result

    def _scrub_paths(self, text: str) -> str:
        # never touch the placeholders already inserted
        parts: list[str] = []
        pos = 0
        for m in PLACEHOLDER_RE.finditer(text):
            parts.append(self._paths.scrub(text[pos : m.start()]))
            parts.append(m.group(0))
            pos = m.end()
        parts.append(self._paths.scrub(text[pos:]))
        return "".join(parts)

    def redact_data(self, obj: Any) -> Any:
        """A deep copy of a JSON-like value with every string (and dict key) redacted."""
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, Mapping):
            return {
                (self.redact(k) if isinstance(k, str) else k): self.redact_data(v)
                for k, v in obj.items()
            }
        if isinstance(obj, list | tuple):
            return [self.redact_data(v) for v in obj]
        return copy.deepcopy(obj)

    def filter_messages(self, messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Redacted deep copies of OpenAI chat-format messages (the input is never mutated)."""
        out: list[dict[str, Any]] = []
        for message in messages:
            msg = copy.deepcopy(dict(message))
            content = msg.get("content")
            if isinstance(content, str):
                msg["content"] = self.redact(content)
            elif isinstance(content, list):
                parts = []
                for part in content:
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        part = {**part, "text": self.redact(part["text"])}
                    elif isinstance(part, str):
                        part = self.redact(part)
                    parts.append(part)
                msg["content"] = parts
            tool_calls = msg.get("tool_calls")
            if isinstance(tool_calls, list):
                for call in tool_calls:
                    fn = call.get("function") if isinstance(call, dict) else None
                    if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                        fn["arguments"] = self._redact_arguments(fn["arguments"])
                    elif isinstance(fn, dict) and isinstance(fn.get("arguments"), dict):
                        fn["arguments"] = self.redact_data(fn["arguments"])
            out.append(msg)
        return out

    def _redact_arguments(self, arguments: str) -> str:
        try:
            parsed = json.loads(arguments)
        except (ValueError, RecursionError):
            return self.redact(arguments)
        redacted = self.redact_data(parsed)
        if redacted == parsed:
            # nothing found in the decoded form; still check the raw text (escapes)
            raw = self.redact(arguments)
            return raw if raw != arguments else arguments
        return json.dumps(redacted, ensure_ascii=False)

    # ----------------------------------------------------------------------------- restore

    def restore_placeholders(self, text: str, kinds: Sequence[str] = KINDS) -> str:
        """Put back the original values of this session's placeholders.

        Call this ONLY for ``write_file``/``edit_file`` content inside the workspace — never for
        commands, URLs, MCP arguments or anything else that could carry a secret out.
        """
        return self._map.restore(text, tuple(kinds))

    def export_mapping(self) -> dict[str, Any]:
        """JSON-serialisable placeholder mapping (holds the secrets: store it encrypted)."""
        return self._map.export()

    def import_mapping(self, data: Mapping[str, Any]) -> None:
        """Restore a mapping from :meth:`export_mapping`; its secrets are redacted again."""
        self._map.load(dict(data))
        for value, placeholder in self._map.secret_values():
            label = placeholder[len("[[SECRET:") :].rsplit(":", 1)[0]
            self._known.add(value, label)

    # ---------------------------------------------------------------------------- response

    def scan_response(self, text: str) -> ResponseScan:
        """Check model output for secrets and exfiltration; return the sanitised text."""
        if not text:
            return ResponseScan(text)
        edits: list[tuple[int, int, str, LeakFinding]] = []

        for start, end, label, kind, _secret in self._secret_spans(text):
            ph = self._map.placeholder_for(text[start:end], "SECRET", label)
            edits.append((start, end, ph, LeakFinding(kind, label, start, end)))

        original, text = text, regex_safe(text)  # RE2 below; same offsets
        ref_urls: dict[str, str] = {}
        for m in MD_REFDEF.finditer(text):
            ref_urls[m.group(1).lower()] = m.group(2)
        image_refs = {
            r.lower() for r in _image_ref_names(text)
        }
        for m in MD_INLINE.finditer(text):
            is_image, label, url = m.group(1) == "!", m.group(2), m.group(3)
            reason = self._url_problem(url, image=is_image)
            if reason:
                kind = "exfil-image" if is_image else "exfil-link"
                repl = "[image removed]" if is_image else f"{label} [link removed]"
                edits.append((m.start(), m.end(), repl,
                              LeakFinding(kind, f"{url_host(url) or url[:40]}: {reason}",
                                          m.start(), m.end())))
        for m in MD_REFDEF.finditer(text):
            url = m.group(2)
            reason = self._url_problem(url, image=m.group(1).lower() in image_refs)
            if reason:
                edits.append((m.start(), m.end(), "[link removed]",
                              LeakFinding("exfil-link", f"{url_host(url) or url[:40]}: {reason}",
                                          m.start(), m.end())))
        for m in HTML_IMG.finditer(text):
            url = m.group(1)
            reason = self._url_problem(url, image=True)
            if reason:
                edits.append((m.start(), m.end(), "[image removed]",
                              LeakFinding("exfil-image", f"{url_host(url) or url[:40]}: {reason}",
                                          m.start(), m.end())))
        for m in URL_RE.finditer(text):
            url = m.group(0)
            reason = self._url_secret_problem(url)
            if reason:
                edits.append((m.start(), m.end(), "[url removed]",
                              LeakFinding("url-data", f"{url_host(url) or url[:40]}: {reason}",
                                          m.start(), m.end())))
        if not edits:
            return ResponseScan(original)
        edits.sort(key=lambda e: (e[0], -(e[1] - e[0])))
        out: list[str] = []
        findings: list[LeakFinding] = []
        pos = 0
        for start, end, repl, finding in edits:
            findings.append(finding)
            if start < pos:
                continue  # inside a region already replaced
            out.append(original[pos:start])
            out.append(repl)
            pos = end
        out.append(original[pos:])
        return ResponseScan("".join(out), findings)

    def _url_secret_problem(self, url: str) -> str | None:
        decoded = unquote(unquote(url))
        if _has_secret_placeholder(url):
            return "contains a placeholder"
        if self._known.find(url) or (decoded != url and self._known.find(decoded)):
            return "contains a known secret"
        if self._secret_spans(decoded):
            return "contains a secret"
        return None

    def _url_problem(self, url: str, *, image: bool) -> str | None:
        secret = self._url_secret_problem(url)
        if secret:
            return secret
        if not url.lower().startswith(("http://", "https://", "//", "ftp://")):
            return None  # relative / anchor / mailto
        host = url_host(url if not url.startswith("//") else "https:" + url)
        if domain_allowed(host, self.allowed_domains):
            return None
        if image:
            return "image from a domain that is not allowlisted"
        return url_carries_data(url)

    def check_outbound_arguments(self, args: Mapping[str, Any]) -> list[LeakFinding]:
        """Placeholders, known secrets or detected secrets in a tool call's arguments.

        The result is empty when the arguments are clean; otherwise each finding names the
        argument (``location`` is a JSON-pointer-like path such as ``/command``).
        """
        findings: list[LeakFinding] = []
        for location, value in _walk_strings(args, ""):
            if _has_secret_placeholder(value):
                findings.append(LeakFinding("placeholder", "placeholder in argument",
                                            location=location))
            for start, end, label, kind, _secret in self._secret_spans(value):
                findings.append(LeakFinding(kind, label, start, end, location))
        findings += self._check_stream(args)
        return findings


    def _check_stream(self, args: Mapping[str, Any]) -> list[LeakFinding]:
        """This request together with what the model already sent to the same destination,
        and to every destination of the session (pieces spread over several hosts)."""
        dest = destination(args)
        values: list[str] = []
        names: list[str] = []
        for location, value in _walk_strings(args, ""):
            (names if location.endswith("#key") else values).append(value)
        tokens, keys = data_tokens(values), data_tokens(names)
        findings: list[LeakFinding] = []
        for where in (dest, EVERYWHERE):
            stream, new_at = self._outbound.add(where, tokens, keys)
            stream = stream[: new_at + STREAM_NEW]  # (the rest was scanned as arguments)
            if new_at >= len(stream) or (findings and where == EVERYWHERE):
                continue
            for _start, end, label, _kind, _secret in self._secret_spans(stream):
                if end > new_at:  # completed by this request
                    findings.append(LeakFinding("reassembled-secret", f"{where}: {label}",
                                                location="(stream)"))
        bits = self._outbound.over_budget(dest)
        if bits is not None:
            findings.append(LeakFinding(
                "entropy-budget",
                f"{dest}: {int(bits)} bits of random-looking data chosen by the model "
                f"(unattended budget {OUTBOUND_BUDGET_BITS})", location="(stream)"))
        return findings


# the SECRET / PII form of PLACEHOLDER_LOOSE_RE for ASCII text, in RE2 (one DFA pass: ``re`` tries the
# alternation at every position, ~60 ns per byte); ``\s`` spelled as Python's ASCII whitespace
_SECRET_PLACEHOLDER_ASCII = raw_matcher(compile_re2(
    r"(?i)(?:\[\[|%5B%5B|%255B%255B|\\\[\\\[)[\t\n\x0b\x0c\r\x1c-\x1f ]*(?:SECRET|PII)(?::|%3A)",
    rule_id="placeholder-loose"))


def _has_secret_placeholder(value: str) -> bool:
    """A SECRET/PII placeholder, literal or URL-encoded (PATH/USER placeholders are not secret)."""
    candidates = [value]
    if "%" in value and "5b" in value.lower():  # "[" is %5B (%255B twice encoded)
        candidates += [unquote(value), unquote(unquote(value))]
    for candidate in candidates:
        # (ASCII text in RE2's DFA; not the rest: re.IGNORECASE also matches "ſ" for s and
        # "ı" for i, RE2's case folding only the first)
        if candidate.isascii():
            data = candidate.encode("ascii")
            if _SECRET_PLACEHOLDER_ASCII(data, 0, len(data))[0][0] >= 0:
                return True
            continue
        for m in PLACEHOLDER_LOOSE_RE.finditer(candidate):
            if m.group(1).upper() in ("SECRET", "PII"):
                return True
    return False


def _image_ref_names(text: str) -> list[str]:
    return [m.group(1) for m in MD_IMAGE_REF.finditer(text)]


def _walk_strings(obj: Any, path: str) -> Iterable[tuple[str, str]]:
    if isinstance(obj, str):
        yield path or "/", obj
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            key = str(k).replace("~", "~0").replace("/", "~1")
            if isinstance(k, str):
                yield f"{path}/{key}#key", k
            yield from _walk_strings(v, f"{path}/{key}")
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            yield from _walk_strings(v, f"{path}/{i}")
