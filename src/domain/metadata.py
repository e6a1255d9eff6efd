"""Payment metadata: a small flat map of strings, as Stripe accepts it."""

from domain.card_data import find_card_data
from domain.errors import InvalidInput

MAX_KEYS = 50
MAX_KEY_LENGTH = 40
MAX_VALUE_LENGTH = 500


def validated_metadata(metadata: dict[str, str] | None) -> dict[str, str]:
    if metadata is None:
        return {}
    if len(metadata) > MAX_KEYS:
        raise InvalidInput("metadata", f"at most {MAX_KEYS} keys are allowed")
    for key, value in metadata.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise InvalidInput("metadata", f"keys must be 1-{MAX_KEY_LENGTH} characters")
        if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH:
            raise InvalidInput(
                f"metadata.{key}", f"must be a string of at most {MAX_VALUE_LENGTH} characters"
            )
    if find_card_data(metadata) is not None:
        raise InvalidInput("metadata", "card data is not accepted")
    return dict(metadata)
