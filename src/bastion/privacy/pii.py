"""Personal data detection for security mode: e-mail, phone, card (Luhn), IBAN (mod 97), SSN, NINO."""

from __future__ import annotations

from dataclasses import dataclass

from bastion.privacy.rules import compile_re2
from bastion.privacy.textio import regex_safe

_EMAIL = compile_re2(
    r"\b[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24}\b",
    rule_id="pii-email",
)
_PHONE = compile_re2(
    r"(?:^|[^\w+])(\+[1-9]\d{0,2}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"
    r"|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}|\b\d{3}[ .-]\d{3}[ .-]\d{4})\b",
    rule_id="pii-phone",
)
_CARD = compile_re2(r"\b(\d(?:[ -]?\d){12,18})\b", rule_id="pii-card")
_IBAN = compile_re2(r"\b([A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?)\b",
                    rule_id="pii-iban")
_SSN = compile_re2(r"\b(\d{3})-(\d{2})-(\d{4})\b", rule_id="pii-ssn")
_NINO = compile_re2(r"\b([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D])\b",
                    rule_id="pii-nino")

_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AT": 20, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "CH": 21,
    "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
    "GB": 22, "GI": 23, "GL": 18, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26,
    "IT": 27, "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27,
    "ME": 22, "MK": 19, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PT": 25,
    "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22,
}
_DIGIT = compile_re2(r"\d", rule_id="pii-digit")
_EMAIL_ALLOW_DOMAINS = ("example.com", "example.org", "example.net", "localhost", "test")


@dataclass(frozen=True)
class PiiMatch:
    kind: str  # email | phone | card | iban | ssn | nino
    start: int
    end: int
    text: str


def luhn_valid(digits: str) -> bool:
    """True if the digit string passes the Luhn checksum."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """True if ``iban`` (spaces allowed) has a known country length and a valid mod-97 check."""
    s = iban.replace(" ", "").upper()
    if len(s) < 15 or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    expected = _IBAN_LENGTHS.get(s[:2])
    if expected is not None and len(s) != expected:
        return False
    rearranged = s[4:] + s[:4]
    try:
        number = int("".join(str(int(c, 36)) for c in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def _ssn_valid(area: str, group: str, serial: str) -> bool:
    return not (area in ("000", "666") or area.startswith("9") or group == "00" or serial == "0000")


def find_pii(text: str) -> list[PiiMatch]:
    """All PII matches in ``text`` (may overlap; the caller merges spans)."""
    text = regex_safe(text)  # RE2 takes UTF-8 only; same offsets
    out: list[PiiMatch] = []
    if "@" in text:
        for m in _EMAIL.finditer(text):
            value = m.group(0)
            domain = value.rsplit("@", 1)[1].lower()
            if any(domain == d or domain.endswith("." + d) for d in _EMAIL_ALLOW_DOMAINS):
                continue
            out.append(PiiMatch("email", m.start(), m.end(), value))
    if _DIGIT.search(text) is None:
        return out
    for m in _CARD.finditer(text):
        raw = m.group(1)
        digits = raw.replace(" ", "").replace("-", "")
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits) and len(
            set(digits)
        ) > 1:
            out.append(PiiMatch("card", m.start(1), m.end(1), raw))
    for m in _IBAN.finditer(text):
        if iban_valid(m.group(1)):
            out.append(PiiMatch("iban", m.start(1), m.end(1), m.group(1)))
    for m in _SSN.finditer(text):
        if _ssn_valid(m.group(1), m.group(2), m.group(3)):
            out.append(PiiMatch("ssn", m.start(), m.end(), m.group(0)))
    for m in _NINO.finditer(text):
        out.append(PiiMatch("nino", m.start(1), m.end(1), m.group(1)))
    for m in _PHONE.finditer(text):
        raw = m.group(1)
        digits = sum(c.isdigit() for c in raw)
        if 8 <= digits <= 15:
            out.append(PiiMatch("phone", m.start(1), m.end(1), raw))
    return out
