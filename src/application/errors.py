"""Application errors: outcomes of a use case that the caller must be told about."""


class ApplicationError(Exception):
    """Base for errors a use case reports; messages are safe to show a customer."""


class NotFound(ApplicationError):
    """The thing does not exist, or the caller may not know that it does."""


class Forbidden(ApplicationError):
    """The caller is known but lacks the role the operation needs."""


class PaymentDeclined(ApplicationError):
    """The card issuer said no; the payment is recorded as failed."""

    def __init__(self, message: str, *, payment_id: str, insufficient_funds: bool) -> None:
        super().__init__(message)
        self.payment_id = payment_id
        self.insufficient_funds = insufficient_funds


class PaymentMethodRejected(ApplicationError):
    """The payment method is missing, detached or unusable."""

    def __init__(self, message: str, *, payment_id: str | None = None) -> None:
        super().__init__(message)
        self.payment_id = payment_id


class GatewayError(ApplicationError):
    """The payment provider failed or its answer is unknown; nothing was guessed."""


class ConcurrencyConflict(ApplicationError):
    """Someone else changed the aggregate first; reload and try again."""


class StorageError(ApplicationError):
    """The event store or a read model could not be reached."""


class IdempotencyMismatch(ApplicationError):
    """The idempotency key was used before with a different request."""


class IdempotencyConflict(ApplicationError):
    """A request with the same idempotency key is still being processed."""


class IdempotencyStoreError(ApplicationError):
    """The idempotency store failed in a way that makes the request unsafe."""


class CardNotAccepted(ApplicationError):
    """The issuer refused the card when it was saved; nothing was charged."""


class PaymentNotRecordedYet(NotFound):
    """A Stripe event names one of our payments before its creation is saved; redeliver later."""


class ServiceUnavailable(ApplicationError):
    """Nothing was started, or the provider refused unprocessed: retry after `retry_after`."""

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotStarted(ServiceUnavailable):
    """The deadline passed before the provider was asked: it has not seen this request."""
