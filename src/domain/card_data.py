"""Card numbers and security codes never enter the service: PCI scope stays at Stripe.

Text is normalised before it is looked at: compatibility forms folded (full-width and other
look-alike digits become ASCII), invisible format characters (zero-width spaces, joiners,
direction marks) removed, and any run of up to three separators (spaces of every kind,
dashes of every kind, dots, underscores) between digits ignored.

A card number is any 13-19 digits of such a run that start and end at its separators, so that
one written beside its expiry or security code (`4242 4242 4242 4242 12 26`, `...4242 123`)
is seen, not only a run that is a card number whole.
"""

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

_SEPARATORS = r"[\s.\u00b7_\-\u2010-\u2015\u2212\u2e3a\u2e3b\ufe58]"
_GAP = 3  # separators allowed between two digits of one run
_DIGIT_RUN = re.compile(rf"\d(?:{_SEPARATORS}{{0,{_GAP}}}\d)*")
_CARD_DIGITS = (13, 19)
_GROUPS = re.compile(r"\d+")
# A run of at least the shortest card number's digits, for text that is not all ASCII.
_LONG_RUN = re.compile(rf"\d(?:{_SEPARATORS}{{0,{_GAP}}}\d){{{_CARD_DIGITS[0] - 1}}}")


def _shape(char: str) -> str:
    """The same test for ASCII text, without a regular expression: each digit becomes "0",
    each separator "-", anything else "x"; more than _GAP separators in a row break a run,
    fewer join its digits; a long enough run is then a row of zeros."""
    if re.fullmatch(r"\d", char):
        return "0"
    return "-" if re.fullmatch(_SEPARATORS, char) else "x"


_SHAPES = str.maketrans({chr(c): _shape(chr(c)) for c in range(128)})
_BREAK, _LONG_RUN_SHAPE = "-" * (_GAP + 1), "0" * _CARD_DIGITS[0]
# A run standing apart: not glued to letters or digits of a longer token (a hex key).
_STANDALONE_RUN = re.compile(rf"(?<![^\W_])\d(?:{_SEPARATORS}{{0,{_GAP}}}\d)*(?![^\W_])")
# A UUID's dashed digit groups can add up to a Luhn-valid run (about 1 id in 500).
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_CVC_WORD = re.compile(r"^(?:card)?(?:cvc|cvv|cvn|cid|csc|cav)\d?$")
_CVC_INSIDE = ("cvc", "cvv", "securitycode", "cardcode", "cardverification", "verificationcode")


def passes_luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def normalised(text: str) -> str:
    """NFKC, without format characters (category Cf): what a reader of the text would see."""
    if text.isascii():
        return text  # NFKC leaves ASCII as it is, and no ASCII character is a format character
    folded = unicodedata.normalize("NFKC", text)
    return "".join(c for c in folded if unicodedata.category(c) != "Cf")


def _has_card_run(pattern: re.Pattern[str], text: str) -> bool:
    text = _UUID.sub(" ", normalised(text))
    if text.isascii():
        shape = text.translate(_SHAPES).replace(_BREAK, "x").replace("-", "")
        if _LONG_RUN_SHAPE not in shape:
            return False  # most text: no run is long enough to be a card number
    elif _LONG_RUN.search(text) is None:
        return False
    return any(_holds_card_number(match.group()) for match in pattern.finditer(text))


def _holds_card_number(run: str) -> bool:
    """Whether neighbouring digit groups of `run` join into a 13-19 digit Luhn-valid number."""
    groups = _GROUPS.findall(run)
    for first in range(len(groups)):
        digits = ""
        for group in groups[first:]:
            digits += group
            if len(digits) > _CARD_DIGITS[1]:
                break
            if len(digits) >= _CARD_DIGITS[0] and passes_luhn(digits):
                return True
    return False


def looks_like_card_number(text: str) -> bool:
    """True when free text holds a 13-19 digit run (separators allowed) passing Luhn."""
    return _has_card_run(_DIGIT_RUN, text)


def is_card_number(token: str) -> bool:
    """True when an opaque token (an idempotency key) holds a card number standing apart.

    A digit run glued to letters is part of a longer token: a random hex key may contain a
    run that happens to pass Luhn, and must not be refused for it.
    """
    return _has_card_run(_STANDALONE_RUN, token)


def is_cvc_name(name: str) -> bool:
    """True for a field name that announces a card security code: cvc, card_cvv, CID, ..."""
    text = normalised(name)
    compact = re.sub(r"[^a-z0-9]", "", text.lower())
    words = [w.lower() for w in _WORDS.findall(text)]
    return any(part in compact for part in _CVC_INSIDE) or any(
        _CVC_WORD.match(w) for w in [*words, compact]
    )


def find_card_data(value: Any, path: str = "$") -> str | None:
    """The JSON path of the first card number or CVC inside `value`, or None."""
    for where, key, leaf in _walk(value, path):
        if key is not None and is_cvc_name(key):
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
