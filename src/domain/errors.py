"""Domain errors: what a caller did that the payment rules do not allow."""


class DomainError(Exception):
    """A rule of the domain was broken; the message is safe to show a customer."""


class InvalidInput(DomainError):
    """A value is malformed or out of range; `field` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class InvalidStatus(DomainError):
    """The payment is not in a state that allows the operation."""


class AlreadyRefunded(DomainError):
    """The payment has been refunded in full."""


class RefundExceedsAmount(InvalidInput):
    """A refund would take back more than is left of the payment."""

    def __init__(self, requested: int, refundable: int) -> None:
        super().__init__(
            "amount", f"refund of {requested} exceeds the refundable amount of {refundable}"
        )


class PaymentMethodNotSaved(DomainError):
    """The payment method is not one of the cards in this wallet."""
