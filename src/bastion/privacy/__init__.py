"""Privacy filter: secrets never reach the model, the logs or the disk.

Public surface (other packages import only these names)::

    PrivacyFilter(known_values=None, *, security_mode=False, workspace=None,
                  allowed_domains=(), rules=None, include_env=False, unattended=False)
        .redact(text) -> str
        .redact_data(obj) -> obj                      # JSON-like values (audit records, crashes)
        .filter_messages(messages) -> list[dict]      # OpenAI chat format, input never mutated
        .restore_placeholders(text) -> str            # ONLY for write_file/edit_file content
        .scan_response(text) -> ResponseScan          # .text (sanitised), .findings, .blocked
        .check_outbound_arguments(args) -> list[LeakFinding]
        .add_known_value(value, label="known")
        .export_mapping() -> dict / .import_mapping(dict)
    SecretScanner(rules=None).scan(text) -> list[Finding]
    scan_text(text) -> list[Finding]
    scan_views(scanner, text) -> list[Finding]   # also in decoded / joined / unprefixed views
    decode_bytes(data) -> str | None              # UTF-8/16/32 text, None for binary
    Finding(rule_id, start, end, line, confidence, secret)
    Rule, load_rules(path), load_gitleaks_toml(path), default_rules(), RuleError
    builtin_rules_digest() -> str                 # SHA-256 of the built-in rule files
    credential_env_values(environ=None) -> {name: value}
    configured_secrets(mcp_servers) -> {name: value}  # MCP env / headers / URL credentials

Views (``bastion.privacy.views``): secrets are also looked for with line prefixes stripped,
escapes and base64 / base32 / hex / gzip blobs decoded, continuations joined; known values
also match as fragments, reversed and rot13; outbound arguments are checked per destination
across the session (``bastion.privacy.outbound``).
"""

from typing import TYPE_CHECKING

from bastion.lazyattrs import lazy_getattr

if TYPE_CHECKING:
    from bastion.privacy.detector import Finding, SecretScanner, default_scanner, scan_text
    from bastion.privacy.filter import PrivacyFilter
    from bastion.privacy.known import configured_secrets, credential_env_values
    from bastion.privacy.pii import iban_valid, luhn_valid
    from bastion.privacy.response import LeakFinding, ResponseScan
    from bastion.privacy.rules import (
        Rule,
        RuleError,
        builtin_rules_digest,
        default_rules,
        load_gitleaks_toml,
        load_rules,
    )
    from bastion.privacy.textio import decode_bytes
    from bastion.privacy.views import scan_views

#: each name loads its module on first use: a command that finds every verdict in its cache
#: (``bastion exec``) needs the rules' digest, not the scanner, the views and the filter
_LAZY = {
    **dict.fromkeys(("Finding", "SecretScanner", "default_scanner", "scan_text"), ".detector"),
    "PrivacyFilter": ".filter",
    **dict.fromkeys(("configured_secrets", "credential_env_values"), ".known"),
    **dict.fromkeys(("iban_valid", "luhn_valid"), ".pii"),
    **dict.fromkeys(("LeakFinding", "ResponseScan"), ".response"),
    **dict.fromkeys(("Rule", "RuleError", "builtin_rules_digest", "default_rules",
                     "load_gitleaks_toml", "load_rules"), ".rules"),
    "decode_bytes": ".textio",
    "scan_views": ".views",
}

__getattr__ = lazy_getattr(__name__, globals(), _LAZY)

__all__ = [
    "Finding",
    "LeakFinding",
    "PrivacyFilter",
    "ResponseScan",
    "Rule",
    "RuleError",
    "SecretScanner",
    "builtin_rules_digest",
    "configured_secrets",
    "credential_env_values",
    "decode_bytes",
    "default_rules",
    "default_scanner",
    "iban_valid",
    "load_gitleaks_toml",
    "load_rules",
    "luhn_valid",
    "scan_text",
    "scan_views",
]
