"""The hash chain over the log: every kind of change to a linked event is named."""

from pathlib import Path

import pytest

from adapters.eventstore import EventSourcedPaymentStore, persistence_env
from adapters.hash_chain import HashChainFollower, HashChainView, verify_chain
from adapters.history_views import hash_chain_view
from adapters.projection_runner import PollingProjectionRunner
from tests.generated import one_payment


@pytest.fixture
def sqlite_store(tmp_path: Path) -> EventSourcedPaymentStore:
    return EventSourcedPaymentStore.from_env(persistence_env(None, tmp_path / "events.db"))


@pytest.fixture
def chain(tmp_path: Path) -> HashChainView:
    return hash_chain_view(persistence_env(None, tmp_path / "chain.db"))


def linked(store: EventSourcedPaymentStore, chain: HashChainView) -> int:
    store.save(*(one_payment(n, "t") for n in range(4)))
    runner = PollingProjectionRunner(store.app, HashChainFollower(store.app, chain), batch_size=5)
    return runner.run_once()


def execute(view: object, sql: str) -> None:
    with view.datastore.transaction(commit=True) as c:  # type: ignore[attr-defined]
        c.execute(sql)


def test_an_untouched_log_verifies(
    sqlite_store: EventSourcedPaymentStore, chain: HashChainView
) -> None:
    count = linked(sqlite_store, chain)
    assert verify_chain(sqlite_store.app, chain) == (count, None)


def test_an_edited_event_is_named(
    sqlite_store: EventSourcedPaymentStore, chain: HashChainView
) -> None:
    linked(sqlite_store, chain)
    execute(
        sqlite_store.app.recorder, "UPDATE stored_events SET state = state || ' ' WHERE rowid = 6"
    )

    checked, tampering = verify_chain(sqlite_store.app, chain)

    assert checked == 5 and tampering is not None
    assert (tampering.position, tampering.problem) == (6, "no longer matches its stored bytes")


def test_an_event_missing_from_the_chain_is_named_as_inserted(
    sqlite_store: EventSourcedPaymentStore, chain: HashChainView
) -> None:
    linked(sqlite_store, chain)
    execute(chain, "DELETE FROM audit_chain WHERE position = 3")

    checked, tampering = verify_chain(sqlite_store.app, chain)

    assert checked == 2 and tampering is not None
    assert (tampering.position, tampering.problem) == (3, "was inserted")


def test_an_event_removed_with_its_link_is_named_as_removed_not_as_its_successor_changed(
    sqlite_store: EventSourcedPaymentStore, chain: HashChainView
) -> None:
    linked(sqlite_store, chain)
    execute(sqlite_store.app.recorder, "DELETE FROM stored_events WHERE rowid = 4")
    execute(chain, "DELETE FROM audit_chain WHERE position = 4")

    checked, tampering = verify_chain(sqlite_store.app, chain)

    assert checked == 3 and tampering is not None
    assert tampering.position == 5
    assert tampering.problem == (
        "no longer matches the chain: this event was changed, or what was at position 4 was "
        "removed with its link (a gap in positions alone is normal)"
    )
