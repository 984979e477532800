"""Kazakhstan phone numbers (every usual spelling → ``+7XXXXXXXXXX``) and e-mail addresses."""
from __future__ import annotations

import re

__all__ = ["find_phones", "find_emails", "normalize_phone", "phone_spans"]

# +7 707 123 45 67 · 8(701)1234567 · 87011234567 · 8-701-123-45-67 · +7 (727) 250-00-00 · 7011234567
_PHONE = re.compile(
    r"(?<![\d+])(?:\+\s*7|8|7)?[\s\-.]*\(?\s*\d{3}\s*\)?[\s\-.]*\d{3}[\s\-.]*\d{2}[\s\-.]*\d{2}(?!\d)"
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zа-я]{2,}", re.IGNORECASE)


def normalize_phone(raw: str) -> str | None:
    """``+7`` and the ten national digits, or None if it is not a Kazakhstan number."""
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 11 and digits[0] in "78":
        national = digits[1:]
    elif len(digits) == 10:
        national = digits
    else:
        return None
    if not national.startswith("7"):
        return None
    return "+7" + national


def phone_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, normalised number) of every Kazakhstan phone number in ``text``."""
    out: list[tuple[int, int, str]] = []
    for match in _PHONE.finditer(text):
        phone = normalize_phone(match.group(0))
        if phone is not None:
            out.append((match.start(), match.end(), phone))
    return out


def find_phones(text: str) -> list[str]:
    return list(dict.fromkeys(phone for _start, _end, phone in phone_spans(text)))


def find_emails(text: str) -> list[str]:
    out: list[str] = []
    for match in _EMAIL.finditer(text):
        email = match.group(0).strip(".").lower()
        if email not in out:
            out.append(email)
    return out
