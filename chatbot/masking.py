"""Personal data masked out of exported text: e-mail addresses, Korean mobile and landline
numbers, resident registration numbers (주민등록번호) and card numbers.

Each is replaced by a bracketed label, so an export stays readable and says what was there.
Digit runs are matched whole (never inside a longer number), a card number only when it
passes the Luhn check, and a resident registration number only with a real month and day,
so order numbers, amounts and dates are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable

EMAIL = "[이메일]"
PHONE = "[전화번호]"
RRN = "[주민등록번호]"
CARD = "[카드번호]"

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Not glued to another digit on either side (a separator, letters or the text's edge).
_ALONE_START, _ALONE_END = r"(?<![\d-])", r"(?![\d])"
# YYMMDD, then the sex and century digit (1-8) and six more: 900101-1234567 or 9001011234567.
_RRN = re.compile(
    _ALONE_START + r"\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\s?-?\s?[1-8]\d{6}" + _ALONE_END
)
# 13 to 19 digits, in groups separated by single spaces or hyphens (or none).
_CARD = re.compile(_ALONE_START + r"\d(?:[ -]?\d){12,18}" + _ALONE_END)
# Mobile 010-1234-5678 (also 011, 016-019), +82 10 ...; landline 02-123-4567, 031-1234-5678;
# internet phones 070-...; with hyphens, dots, spaces or nothing between the parts.
_PHONE = re.compile(
    r"(?:(?<![\d+])\+82[ -]?|" + _ALONE_START + r"0)"
    r"(?:1[016789]|2|[3-6][1-5]|70)"
    r"[ .-]?\d{3,4}[ .-]?\d{4}" + _ALONE_END
)


def _luhn(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    number = re.sub(r"\D", "", match.group())
    return CARD if _luhn(number) else match.group()


_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str] | str], ...] = (
    (_EMAIL, EMAIL),
    (_RRN, RRN),  # before cards and phones: thirteen digits of its own shape
    (_CARD, _card),
    (_PHONE, PHONE),
)


def mask_personal_data(text: str) -> str:
    """``text`` with e-mail addresses, Korean phone numbers, resident registration numbers
    and card numbers replaced by labels."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
