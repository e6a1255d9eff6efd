"""How the console shows and reads money, causes and dates."""

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from domain.errors import InvalidInput
from domain.money import THREE_DECIMAL, ZERO_DECIMAL


def exponent(currency: str) -> int:
    code = currency.lower()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def money(amount: int, currency: str) -> str:
    """9999, "usd" -> "99.99 USD"."""
    places = exponent(currency)
    major = Decimal(amount).scaleb(-places)
    return f"{major:,.{places}f} {currency.upper()}"


def minor_units(text: str, currency: str) -> int | None:
    """What an operator typed ("10", "10.00") in minor units; blank means "the rest"."""
    text = text.strip().replace(",", "")
    if not text:
        return None
    try:
        major = Decimal(text)
    except InvalidOperation:
        raise InvalidInput("amount", f"'{text}' is not an amount") from None
    minor = major.scaleb(exponent(currency))
    if not major.is_finite() or minor != minor.to_integral_value() or minor <= 0:
        places = exponent(currency)
        raise InvalidInput(
            "amount", f"give a positive amount with at most {places} decimals for {currency}"
        )
    return int(minor)


def cause_text(cause: dict[str, str] | None) -> str:
    """Who or what made an event happen, in a support agent's words."""
    if not cause:
        return "not recorded"
    if "stripe_event_id" in cause:
        return f"Stripe event {cause['stripe_event_id']}"
    if "command" in cause:
        return f"command: {cause['command']}"
    user = cause.get("user_id") or "anonymous"
    return f"request {cause.get('request_id', '?')} by {user}"


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def day(text: str | None, field: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(field, "use a date such as 2026-01-31") from None
