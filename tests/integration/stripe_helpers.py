"""Wiring the use cases to a StripeGateway pointed at a loopback server."""

from adapters.eventstore import EventSourcedPaymentStore, PaymentsApplication
from adapters.stripe_gateway import StripeGateway
from application.process_payment import PaymentReceipt, ProcessPayment
from tests import wiring

TEST_KEY = "sk_test_loopback_0123456789"


def stripe_at(url: str, *, read_timeout: float = 2.0, retries: int = 0) -> StripeGateway:
    return StripeGateway(
        TEST_KEY,
        api_base=url,
        connect_timeout=1.0,
        read_timeout=read_timeout,
        max_network_retries=retries,
    )


def memory_store() -> EventSourcedPaymentStore:
    return EventSourcedPaymentStore(PaymentsApplication(env={"PERSISTENCE_MODULE": ""}))


def purchase(**overrides: object) -> ProcessPayment:
    fields: dict[str, object] = {
        "user_id": "user-1",
        "amount": 2500,
        "currency": "usd",
        "payment_method_id": "pm_card_visa",
        "course_id": "course-1",
        "idempotency_key": "order-1",
    }
    fields.update(overrides)
    return ProcessPayment(**fields)  # type: ignore[arg-type]


def pay(
    cmd: ProcessPayment, store: EventSourcedPaymentStore, gateway: StripeGateway
) -> PaymentReceipt:
    return wiring.pay(cmd, store=store, gateway=gateway)
