"""Stripe's webhook signature check (stripe-python's own), over several secrets for rotation."""

from collections.abc import Sequence

from stripe import SignatureVerificationError, WebhookSignature

from domain.errors import InvalidInput

TOLERANCE_SECONDS = 300
HEADER = "Stripe-Signature"


def verify_stripe_signature(payload: bytes, header: str | None, secrets: Sequence[str]) -> None:
    """Pass when any configured secret signed `payload` within the tolerance; else say why not."""
    if not header:
        raise InvalidInput(HEADER, "missing")
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("body", "is not UTF-8 text") from None
    stale = False
    for secret in secrets:
        try:
            WebhookSignature.verify_header(payload, header, secret, TOLERANCE_SECONDS)
        except SignatureVerificationError as error:
            reason = str(error)
            if reason.startswith(("Unable to extract", "No signatures found with expected")):
                raise InvalidInput(HEADER, "malformed; expected t=...,v1=...") from None
            stale = stale or reason.startswith("Timestamp outside")
            continue
        return
    if stale:
        raise InvalidInput(HEADER, f"timestamp is more than {TOLERANCE_SECONDS} s old")
    raise InvalidInput(HEADER, "does not match the payload")
