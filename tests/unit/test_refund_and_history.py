"""refund_payment, get_payment and payment_history on in-memory persistence."""

import asyncio
from uuid import UUID

import pytest

from adapters.eventstore import EventSourcedPaymentStore
from adapters.projection_runner import PollingProjectionRunner
from adapters.simulated_gateway import SimulatedGateway
from application.actors import Actor
from application.errors import Forbidden, NotFound, PaymentDeclined
from application.process_payment import ProcessPayment
from application.queries import get_payment, payment_history
from application.refund_payment import RefundPayment, RefundReceipt, refund_payment
from domain.errors import AlreadyRefunded, InvalidInput, InvalidStatus
from tests.fakes import InMemoryHistoryView
from tests.wiring import pay

ADMIN = Actor("admin-1", frozenset({"admin"}))
ALICE = Actor("alice")


def paid(store: EventSourcedPaymentStore, gateway: SimulatedGateway, **overrides: object) -> UUID:
    fields: dict[str, object] = {
        "user_id": "alice",
        "amount": 1000,
        "currency": "usd",
        "payment_method_id": "pm_card_visa",
    }
    fields.update(overrides)
    receipt = pay(ProcessPayment(**fields), store=store, gateway=gateway)  # type: ignore[arg-type]
    return UUID(receipt.payment_id)


def refund(
    store: EventSourcedPaymentStore,
    gateway: SimulatedGateway,
    payment_id: UUID,
    amount: int | None = None,
    actor: Actor = ADMIN,
) -> RefundReceipt:
    return asyncio.run(
        refund_payment(
            RefundPayment(actor=actor, payment_id=payment_id, amount=amount),
            store=store,
            gateway=gateway,
        )
    )


def test_refund_half_then_the_rest_then_already_refunded(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    payment_id = paid(store, gateway)
    assert refund(store, gateway, payment_id, 500).status == "partially_refunded"
    rest = refund(store, gateway, payment_id)
    assert (rest.amount, rest.status) == (500, "refunded")
    with pytest.raises(AlreadyRefunded):
        refund(store, gateway, payment_id)
    assert get_payment(ALICE, payment_id, store=store).refunded_amount == 1000
    assert len({call.idempotency_key for call in gateway.refund_calls}) == 2


def test_only_admins_refund(store: EventSourcedPaymentStore, gateway: SimulatedGateway) -> None:
    payment_id = paid(store, gateway)
    with pytest.raises(Forbidden):
        refund(store, gateway, payment_id, actor=ALICE)
    assert gateway.refund_calls == []


def test_a_refund_beyond_the_amount_is_refused(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    payment_id = paid(store, gateway)
    with pytest.raises(InvalidInput):
        refund(store, gateway, payment_id, 1001)
    assert get_payment(ALICE, payment_id, store=store).refunded_amount == 0


def test_a_failed_payment_cannot_be_refunded(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    with pytest.raises(PaymentDeclined) as declined:
        paid(store, gateway, payment_method_id="pm_card_chargeDeclined")
    payment_id = UUID(declined.value.payment_id)
    with pytest.raises(InvalidStatus):
        refund(store, gateway, payment_id)


def test_refunding_an_unknown_payment_is_not_found(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    with pytest.raises(NotFound):
        refund(store, gateway, UUID(int=7))


def test_another_users_payment_does_not_exist_for_them(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    payment_id = paid(store, gateway)
    with pytest.raises(NotFound):
        get_payment(Actor("mallory"), payment_id, store=store)
    assert get_payment(ADMIN, payment_id, store=store).user_id == "alice"


def test_history_is_newest_first_with_totals_and_a_status_filter(
    store: EventSourcedPaymentStore,
    gateway: SimulatedGateway,
    view: InMemoryHistoryView,
    projector: PollingProjectionRunner,
) -> None:
    ids = [paid(store, gateway, amount=1000 + i) for i in range(5)]
    paid(store, gateway, user_id="bob")
    refund(store, gateway, ids[0], 100)
    projector.run_once()

    page = payment_history(ALICE, limit=2, offset=0, status=None, history=view)
    assert page.total == 5
    assert [row.id for row in page.items] == [ids[4], ids[3]]
    last = payment_history(ALICE, limit=2, offset=4, status=None, history=view)
    assert [row.id for row in last.items] == [ids[0]]
    assert last.items[0].refunded_amount == 100
    refunded = payment_history(ALICE, limit=10, offset=0, status="partially_refunded", history=view)
    assert (refunded.total, [r.id for r in refunded.items]) == (1, [ids[0]])
    assert payment_history(ALICE, limit=10, offset=0, status="succeeded", history=view).total == 4
    assert projector.lag() == 0


def test_projecting_twice_changes_nothing(
    store: EventSourcedPaymentStore,
    gateway: SimulatedGateway,
    view: InMemoryHistoryView,
    projector: PollingProjectionRunner,
) -> None:
    paid(store, gateway)
    assert projector.run_once() > 0
    assert projector.run_once() == 0
    assert payment_history(ALICE, limit=10, offset=0, status=None, history=view).total == 1


@pytest.mark.parametrize(
    ("limit", "offset", "status"), [(0, 0, None), (101, 0, None), (10, -1, None), (10, 0, "nope")]
)
def test_history_paging_is_validated(
    view: InMemoryHistoryView, limit: int, offset: int, status: str | None
) -> None:
    with pytest.raises(InvalidInput):
        payment_history(ALICE, limit=limit, offset=offset, status=status, history=view)
