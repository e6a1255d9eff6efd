"""Card numbers and security codes never enter the service: PCI scope stays at Stripe."""

import re
from collections.abc import Iterator
from typing import Any

_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d)*")
# A UUID's dashed digit groups can add up to a Luhn-valid run (about 1 id in 500).
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
CVC_FIELD_NAMES = frozenset({"cvc", "cvv", "cvc2", "cvv2", "csc", "securitycode", "cardcode"})


def passes_luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def is_card_number(text: str) -> bool:
    """True when `text` is nothing but a card number: 13-19 digits (spaces or dashes) passing Luhn.

    For opaque tokens such as idempotency keys, where a random key may contain a digit run
    that happens to pass Luhn.
    """
    digits = re.sub(r"[ -]", "", text.strip())
    return digits.isdigit() and 13 <= len(digits) <= 19 and passes_luhn(digits)


def looks_like_card_number(text: str) -> bool:
    """True when `text` holds a 13-19 digit run (spaces or dashes allowed) passing Luhn."""
    for match in _DIGIT_RUN.finditer(_UUID.sub(" ", text)):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and passes_luhn(digits):
            return True
    return False


def _normalised(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def find_card_data(value: Any, path: str = "$") -> str | None:
    """The JSON path of the first card number or CVC inside `value`, or None."""
    for where, key, leaf in _walk(value, path):
        if key is not None and _normalised(key) in CVC_FIELD_NAMES:
            return where
        is_text = isinstance(leaf, str | int) and not isinstance(leaf, bool)
        if is_text and looks_like_card_number(str(leaf)):
            return where
    return None


def _walk(value: Any, path: str, key: str | None = None) -> Iterator[tuple[str, str | None, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{path}.{k}", str(k), str(k)
            yield from _walk(v, f"{path}.{k}", str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]", key)
    else:
        yield path, key, value
