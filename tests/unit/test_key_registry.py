"""Encryption keys are checked at start against those that wrote the events: none is dropped
while its events exist, and none writes before the other processes were given it to read."""

import base64
import threading
from pathlib import Path

import pytest

from adapters.encryption import UnreadableEvents, check_events_readable
from adapters.eventstore import EventSourcedPaymentStore, persistence_env
from adapters.key_registry import KeyRegistry, KeysNotUsable, check_keys, fingerprint
from domain.payment import Payment

A, B, C = (base64.b64encode(bytes([n]) * 32).decode() for n in (1, 2, 3))


def payment(key: str) -> Payment:
    return Payment(
        user_id="u", amount=1000, currency="usd", payment_method_id="pm_card_visa",
        course_id=None, metadata={}, idempotency_key=key, key_derived=False, attempt=0,
        request_hash="h",
    )  # fmt: skip


def started(tmp_path: Path, encryption_key: str, *decrypt_only: str) -> EventSourcedPaymentStore:
    """A process's start: the events read, the keys checked and recorded, one payment saved."""
    env = persistence_env(
        None, tmp_path / "events.db", encryption_key=encryption_key, decrypt_only_keys=decrypt_only
    )
    store = EventSourcedPaymentStore.from_env(env)
    check_events_readable(store.app)
    position = (store.app.recorder.max_notification_id() or 0) + 1
    check_keys(KeyRegistry(store.app.recorder), encryption_key, decrypt_only, position)
    store.save(payment(f"k-{position}"))
    return store


def test_two_rotations_record_who_wrote_from_where(tmp_path: Path) -> None:
    started(tmp_path, A)
    started(tmp_path, A, B)  # step 1: B given to read with
    started(tmp_path, B, A)  # step 2: B writes
    started(tmp_path, B, A, C)
    store = started(tmp_path, C, A, B)

    known = KeyRegistry(store.app.recorder).known()

    assert {(k.fingerprint, k.wrote, k.since) for k in known.values()} == {
        (fingerprint(A), True, 1),
        (fingerprint(B), True, 3),
        (fingerprint(C), True, 5),
    }
    assert A not in str(known) and fingerprint(A) != fingerprint(B)


def test_a_key_that_wrote_events_cannot_be_left_out(tmp_path: Path) -> None:
    started(tmp_path, A)
    started(tmp_path, A, B)
    started(tmp_path, B, A)
    started(tmp_path, B, A, C)
    started(tmp_path, C, A, B)

    # The first and the last event still read (A and C): only the registry knows B wrote.
    with pytest.raises(KeysNotUsable) as refused:
        started(tmp_path, C, A)

    assert str(refused.value) == (
        f"events were written with keys that are not configured: {fingerprint(B)} (from "
        "position 3); give them in PAYMENTS_DECRYPT_ONLY_KEYS (`payment-service keys` lists "
        "fingerprints)"
    )


def test_a_key_not_given_to_read_with_first_does_not_write(tmp_path: Path) -> None:
    started(tmp_path, A)

    with pytest.raises(KeysNotUsable) as refused:
        started(tmp_path, C, A)  # a new key swapped in at once (or mistyped)

    assert str(refused.value).startswith(
        f"PAYMENTS_ENCRYPTION_KEY (fingerprint {fingerprint(C)}) was never given to a "
        "process to read with"
    )
    store = EventSourcedPaymentStore.from_env(persistence_env(None, tmp_path / "events.db"))
    assert store.app.recorder.max_notification_id() == 1  # nothing was written with it


def test_a_stray_prefixed_variable_does_not_replace_the_configured_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYMENTS_CIPHER_KEY", C)
    written = started(tmp_path, A)
    monkeypatch.delenv("PAYMENTS_CIPHER_KEY")

    read = EventSourcedPaymentStore.from_env(
        persistence_env(None, tmp_path / "events.db", encryption_key=A)
    )

    saved = next(iter(written.app.recorder.select_notifications(0, 1)))
    assert read.find(saved.originator_id) is not None


def test_events_of_a_type_this_version_does_not_know_stop_the_start_in_one_line(
    tmp_path: Path,
) -> None:
    store = started(tmp_path, A)
    with store.app.recorder.datastore.transaction(commit=True) as c:
        c.execute("UPDATE stored_events SET topic = 'domain.payment:Payment.FromTheFuture'")

    with pytest.raises(UnreadableEvents) as refused:
        check_events_readable(store.app)

    assert str(refused.value) == (
        "a stored event's type is unknown to this version (domain.payment:Payment.FromTheFuture):"
        " events were written by a newer version; run that one"
    )


def unchecked(tmp_path: Path, encryption_key: str, *decrypt_only: str) -> None:
    """Events written by a version that kept no record of its keys."""
    env = persistence_env(
        None, tmp_path / "events.db", encryption_key=encryption_key, decrypt_only_keys=decrypt_only
    )
    EventSourcedPaymentStore.from_env(env).save(payment(f"before-the-record-{encryption_key}"))


def test_the_first_record_on_existing_events_counts_every_configured_key_as_a_writer(
    tmp_path: Path,
) -> None:
    unchecked(tmp_path, A)
    unchecked(tmp_path, B, A)
    unchecked(tmp_path, C, A, B)  # B wrote only between the first and the last event
    started(tmp_path, C, A, B)

    with pytest.raises(KeysNotUsable) as refused:
        started(tmp_path, C, A)

    assert f"not configured: {fingerprint(B)} (from position 1)" in str(refused.value)


def second_start_during_the_first(
    first: EventSourcedPaymentStore, second: EventSourcedPaymentStore
) -> list[str]:
    """The second of two processes starting at once with different keys (A, then B) takes the
    check while the first is between its check and its commit."""
    outcome: list[str] = []
    second_registry = KeyRegistry(second.app.recorder)

    def start_second() -> None:
        try:
            check_keys(second_registry, B, (), next_position=1)
            outcome.append("started")
        except KeysNotUsable:
            outcome.append("refused")

    registry = KeyRegistry(first.app.recorder)
    with registry.locked() as c:
        registry.record(c, fingerprint(A), wrote=True, since=1)
        racing = threading.Thread(target=start_second)
        racing.start()
        racing.join(0.5)
        assert racing.is_alive(), "the second start did not wait for the first"
    racing.join(10)
    return outcome


def test_a_start_waits_for_one_under_way_and_sees_what_it_recorded(tmp_path: Path) -> None:
    """Both cannot go on to write events the other cannot read."""
    EventSourcedPaymentStore.from_env(persistence_env(None, tmp_path / "events.db"))
    first, second = (
        EventSourcedPaymentStore.from_env(
            persistence_env(None, tmp_path / "events.db", encryption_key=key)
        )
        for key in (A, B)
    )

    assert second_start_during_the_first(first, second) == ["refused"]
