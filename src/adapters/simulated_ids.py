"""The simulated gateway's ids: hex drawn from a seed, never shaped like a card number."""

import hashlib
import hmac

from domain.card_data import looks_like_card_number


def simulated_token(seed: bytes, *parts: str, length: int = 24) -> str:
    """`length` hex digits from `seed` and `parts`, the same for the same arguments.

    These ids come back as input (a saved card's `pm_sim_` id in a charge's body) and go to
    the logs, and both refuse or hide a run of 13-19 digits passing Luhn, even one glued to
    letters: about one token of 24 hex digits in 850 holds one. Such a token is drawn again
    from the same parts with a counter, so every id is taken as it is.
    """
    salted, again = parts, 0
    while True:
        token = hmac.new(seed, "\x1f".join(salted).encode(), hashlib.sha256).hexdigest()[:length]
        if not looks_like_card_number(token):
            return token
        again += 1
        salted = (*parts, str(again))
