"""Known values match as fragments, reversed, rot13 and base32; outbound data is checked as a
stream per destination, with an entropy budget when no person is watching."""

from __future__ import annotations

import base64
import codecs
import secrets
import string

from bastion.privacy import PrivacyFilter, configured_secrets

TOKEN = "ghp_Q7w2E9r4T1y8U3i6O5p0A2s7D4f9G1h6J3k8"
OPAQUE = "zR4kW9qL2mX7vB3nT8pY"  # no recognisable shape: only known-value matching finds it


def test_fragments_reversed_rot13_and_base32_of_a_known_value() -> None:
    pf = PrivacyFilter({"SERVICE_TOKEN": OPAQUE})
    for shown in (OPAQUE[3:16], OPAQUE[::-1], codecs.encode(OPAQUE, "rot13"),
                  OPAQUE[2:18][::-1], base64.b32encode(OPAQUE.encode()).decode()):
        out = pf.redact(f"value: {shown} end")
        assert shown not in out and "[[SECRET:service-token" in out, (shown, out)


def test_short_or_plain_windows_are_not_fragments() -> None:
    pf = PrivacyFilter({"K": "aaaaaaaaaaaaaaaaaaaa-Zq8vN3mX5pL2"})
    text = "aaaaaaaaaaaaaaaaaaaa and the word Zq8vN3 alone"
    assert pf.redact(text) == text


def test_secret_found_in_a_blob_is_known_afterwards_in_any_shape() -> None:
    pf = PrivacyFilter()
    pf.redact(base64.b64encode(f"token={TOKEN}".encode()).decode())
    for later in (TOKEN, TOKEN[10:24], TOKEN[::-1]):
        assert later not in pf.redact(f"later {later}")


def test_configured_secrets_from_mcp_servers() -> None:
    found = configured_secrets({
        "gh": {"command": "x", "env": {"GITHUB_TOKEN": OPAQUE}, "headers": {"X-Key": "hk-9Qz2Lm"},
               "url": "https://bot:pw-8Kq2Zm9x@mcp.example/sse?key=Zx9Lq2Km8Vb"}})
    assert set(found.values()) == {OPAQUE, "hk-9Qz2Lm", "pw-8Kq2Zm9x", "Zx9Lq2Km8Vb"}
    pf = PrivacyFilter(found)
    assert OPAQUE[::-1] not in pf.redact(f"server said {OPAQUE[::-1]}")


def _send(pf: PrivacyFilter, piece: str) -> list[str]:
    return [f.kind for f in pf.check_outbound_arguments(
        {"url": f"https://allowed.example/c/{piece}"})]


def test_pieces_of_a_detected_token_are_reassembled_per_destination() -> None:
    pf = PrivacyFilter()
    kinds = [_send(pf, TOKEN[i:i + 13]) for i in range(0, len(TOKEN), 13)]
    assert not any(kinds[:-1]) and "reassembled-secret" in kinds[-1]


def test_pieces_spread_over_hosts_and_tools_are_reassembled_too() -> None:
    """Half to one allowed host, half to another (or to an MCP tool's argument): the
    session-wide stream joins them; the request that completes the secret is refused."""
    other = PrivacyFilter()
    assert not other.check_outbound_arguments({"url": f"https://a.example/{TOKEN[:20]}"})
    found = other.check_outbound_arguments({"url": f"https://b.example/{TOKEN[20:]}"})
    assert [f for f in found if f.kind == "reassembled-secret"
            and f.detail.startswith("(all destinations)")], found
    mixed = PrivacyFilter()
    assert not mixed.check_outbound_arguments({"url": f"https://a.example/{TOKEN[:20]}"})
    found = mixed.check_outbound_arguments({"note": TOKEN[20:]})  # e.g. an MCP tool's argument
    assert [f for f in found if f.kind == "reassembled-secret"], found


def test_unrelated_requests_to_several_hosts_are_not_refused() -> None:
    pf = PrivacyFilter(unattended=True)
    for host, path in (("docs.python.org", "3/library/re.html"), ("pypi.org", "project/httpx"),
                       ("github.com", "encode/httpx/blob/master/README.md"),
                       ("example.com", "search?q=regex+split&page=2")):
        assert not pf.check_outbound_arguments({"url": f"https://{host}/{path}"}), host


def test_pieces_inside_large_requests_are_reassembled() -> None:
    """The stream re-scans only the start of a large request (its whole text was scanned as an
    argument): a piece at the end of one big request and the rest at the start of the next are
    still joined."""
    filler = "/".join(f"page{i}" for i in range(20_000))  # ~200 KB of ordinary path segments
    pf = PrivacyFilter()
    first = pf.check_outbound_arguments({"url": f"https://allowed.example/{filler}/{TOKEN[:20]}"})
    assert not [f for f in first if f.kind == "reassembled-secret"]
    second = pf.check_outbound_arguments(
        {"url": f"https://allowed.example/{TOKEN[20:]}/{filler.replace('page', 'item')}"})
    assert "reassembled-secret" in [f.kind for f in second]


def test_base32_pieces_of_a_known_value_are_caught() -> None:
    pf = PrivacyFilter({"SERVICE_TOKEN": OPAQUE})
    b32 = base64.b32encode(OPAQUE.encode()).decode().rstrip("=")
    pieces = [b32[i:i + 13] for i in range(0, len(b32), 13)]
    blocked = [bool(_send(pf, p)) for p in pieces]
    assert blocked[0] is False and all(blocked[2:]), blocked


def test_unattended_entropy_budget() -> None:
    rng = secrets.SystemRandom(7)
    alphabet = string.ascii_letters + string.digits

    def blob() -> str:
        return "".join(rng.choice(alphabet) for _ in range(24))

    attended = PrivacyFilter()
    assert all(not _send(attended, blob()) for _ in range(10))
    pf = PrivacyFilter(unattended=True)
    results = [_send(pf, blob()) for _ in range(10)]
    assert not results[0] and "entropy-budget" in results[-1]
    # ordinary URLs spend nothing
    quiet = PrivacyFilter(unattended=True)
    for path in ("docs/3/library/re.html", "search?q=regex+split", "api/v1/users/42"):
        assert not _send(quiet, path)


def test_entropy_budget_ignores_identifiers_and_words() -> None:
    pf = PrivacyFilter(unattended=True)
    code = " ".join(["getUserName", "parse_config_file", "HttpRequestHandler", "everything"] * 50)
    assert not [f for f in pf.check_outbound_arguments({"content": code})
                if f.kind == "entropy-budget"]


def test_remembered_redactions_follow_new_known_values() -> None:
    pf = PrivacyFilter()
    text = f"notes: {OPAQUE} and more"
    assert pf.redact(text) == text  # not known yet: nothing to redact
    assert pf.redact(text) == text  # (served from the recent results)
    pf.add_known_value(OPAQUE, "service")
    assert OPAQUE not in pf.redact(text)


def test_a_fresh_argument_name_per_piece_does_not_break_reassembly() -> None:
    """{"a1": piece1}, {"a2": piece2}, …: argument names stay out of the stream."""
    pf = PrivacyFilter()
    pieces = [TOKEN[i:i + 13] for i in range(0, len(TOKEN), 13)]
    results = [pf.check_outbound_arguments({f"a{n}": p}) for n, p in enumerate(pieces)]
    assert not any(results[:-1])
    assert [f for f in results[-1] if f.kind == "reassembled-secret"], results[-1]


def test_long_known_value_printed_in_part_is_redacted_whole() -> None:
    """A part of a long known value (a key body) is matched window by window and extended
    along the value: nothing of it is left, whatever the cut, forwards or reversed."""
    rng = secrets.SystemRandom(11)
    alphabet = string.ascii_letters + string.digits + "+/"
    value = "".join(rng.choice(alphabet) for _ in range(300))
    pf = PrivacyFilter({"DEPLOY_KEY": value})
    for part in (value[37:260], value[101:300], value[37:260][::-1]):
        # (the next line starts with "#": a line starting with a token character would be
        # joined to the part, and a first character equal to the value's next one redacted too)
        out = pf.redact(f"cat key.txt | cut -c38-\n{part}\n# done")
        assert out.startswith("cat key.txt | cut -c38-\n[[SECRET:") and out.endswith("]]\n# done")
        assert not any(part[i:i + 12] in out for i in range(len(part) - 11)), out
