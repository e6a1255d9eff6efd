import pytest

from adapters.eventstore import EventSourcedPaymentStore, PaymentsApplication
from adapters.projection_runner import PollingProjectionRunner
from adapters.simulated_gateway import SimulatedGateway
from application.history import PaymentHistoryProjection
from tests.fakes import InMemoryHistoryView


@pytest.fixture
def store() -> EventSourcedPaymentStore:
    return EventSourcedPaymentStore(PaymentsApplication(env={"PERSISTENCE_MODULE": ""}))


@pytest.fixture
def gateway() -> SimulatedGateway:
    return SimulatedGateway()


@pytest.fixture
def view() -> InMemoryHistoryView:
    return InMemoryHistoryView()


@pytest.fixture
def projector(
    store: EventSourcedPaymentStore, view: InMemoryHistoryView
) -> PollingProjectionRunner:
    return PollingProjectionRunner(store.app, PaymentHistoryProjection(view=view), view)
