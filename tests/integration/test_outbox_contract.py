"""The outbox on SQLite and PostgreSQL: parking after 72 h, order per payment, redelivery."""

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Tracking

from application.dispatch_events import dispatch_one
from application.outbound_events import OutboxEntry, outbound_event_id
from application.outbox_ports import DeliveryFailed, OutboundMessage
from application.retry_schedule import RetrySchedule
from entrypoints.cli import main
from entrypoints.container import build_container
from entrypoints.settings import Settings
from tests.cli_process import cli_in_process

ENDPOINT = "https://platform.example/hooks"
START = datetime(2026, 3, 1, 12, tzinfo=UTC)


@dataclass
class Clock:
    moment: datetime = START

    def now(self) -> datetime:
        return self.moment


@dataclass
class Platform:
    """An endpoint that refuses some events until told otherwise; records what it accepted."""

    endpoint: str = ENDPOINT
    refused: set[str] = field(default_factory=set)
    tries: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)

    def send(self, message: OutboundMessage) -> None:
        self.tries.append(message.event_id)
        if message.event_id in self.refused:
            raise DeliveryFailed("HTTP 503")
        self.accepted.append(message.event_id)


def entry(payment: UUID, version: int, position: int) -> OutboxEntry:
    return OutboxEntry(
        event_id=outbound_event_id(payment, version),
        type="payment.succeeded" if version == 2 else "payment.refunded",
        payment_id=payment,
        sequence=version,
        refund_number=None if version == 2 else 1,
        position=position,
        occurred_at=START,
    )


def test_a_refused_event_is_parked_after_72_hours_and_holds_back_only_its_payment(
    backend_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli_in_process(monkeypatch, backend_env)
    outbox = build_container(Settings.from_env(backend_env)).outbound.outbox()
    refused, other = uuid4(), uuid4()
    first, then, elsewhere = entry(refused, 2, 1), entry(refused, 3, 3), entry(other, 2, 2)
    outbox.add([first, elsewhere, then], [ENDPOINT], Tracking("payments", 3))
    outbox.add([first], [ENDPOINT], Tracking("payments", 4))  # once only, however often
    platform = Platform(refused={str(first.event_id)})
    clock = Clock()
    send = partial(
        dispatch_one,
        outbox,
        {ENDPOINT: platform},
        render=lambda e: json.dumps({"id": str(e.event_id)}).encode(),
        schedule=RetrySchedule(rng=random.Random(5)),
        clock=clock,
    )

    def run_until_nothing_is_pending() -> None:
        while True:
            while send():
                pass
            pending = [r for r in outbox.rows(parked_only=False, limit=10) if r.status == "pending"]
            due = [r.next_attempt_at for r in pending if r.entry.event_id != then.event_id]
            if not due:
                return
            clock.moment = max(clock.moment, min(due))

    run_until_nothing_is_pending()

    assert platform.accepted == [str(elsewhere.event_id)]  # the other payment went through
    assert str(then.event_id) not in platform.tries  # waits behind the parked one
    assert clock.moment - START >= timedelta(hours=72)
    assert len(platform.tries) > 70
    parked = outbox.rows(parked_only=True, limit=10)
    assert [(r.entry.event_id, r.status) for r in parked] == [(first.event_id, "parked")]
    assert outbox.health([ENDPOINT], clock.now()).parked == 1

    assert main(["events", "list", "--failed"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["id"], e["status"], e["endpoint"]) for e in listed] == [
        (str(first.event_id), "parked", ENDPOINT)
    ]
    assert listed[0]["lastError"] == "HTTP 503"

    platform.refused.clear()  # the platform is fixed
    assert main(["events", "redeliver", "--id", str(first.event_id)]) == 0
    capsys.readouterr()
    run_until_nothing_is_pending()
    assert platform.accepted[1:] == [str(first.event_id), str(then.event_id)]
    assert outbox.rows(parked_only=True, limit=10) == []
    assert outbox.health([ENDPOINT], clock.now()).parked == 0


def test_redeliver_since_a_date_sends_delivered_events_again(
    backend_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli_in_process(monkeypatch, backend_env)
    outbox = build_container(Settings.from_env(backend_env)).outbound.outbox()
    old = OutboxEntry(**{**entry(uuid4(), 2, 1).__dict__, "occurred_at": START - timedelta(days=3)})
    recent = entry(uuid4(), 2, 2)
    outbox.add([old, recent], [ENDPOINT], Tracking("payments", 2))
    platform, clock = Platform(), Clock(START + timedelta(hours=1))
    send = partial(
        dispatch_one, outbox, {ENDPOINT: platform}, render=lambda e: b"{}",
        schedule=RetrySchedule(), clock=clock,
    )  # fmt: skip
    while send():
        pass
    assert len(platform.accepted) == 2

    assert main(["events", "redeliver", "--since", START.date().isoformat()]) == 0
    assert "1 deliveries" in capsys.readouterr().out
    clock.moment = datetime.now(UTC)  # put back to be sent now, by the wall clock
    while send():
        pass
    assert platform.accepted[2:] == [str(recent.event_id)]
    assert main(["events", "redeliver", "--id", str(uuid4())]) == 1  # no such event


def test_an_event_whose_body_cannot_be_built_holds_up_no_other(
    backend_env: dict[str, str],
) -> None:
    outbox = build_container(Settings.from_env(backend_env)).outbound.outbox()
    broken, fine = entry(uuid4(), 2, 1), entry(uuid4(), 2, 2)
    outbox.add([broken, fine], [ENDPOINT], Tracking("payments", 2))
    platform = Platform()

    def render(e: OutboxEntry) -> bytes:
        if e.event_id == broken.event_id:
            raise LookupError("the event store lost it")
        return b"{}"

    clock = Clock(datetime.now(UTC))
    send = partial(
        dispatch_one, outbox, {ENDPOINT: platform}, render=render,
        schedule=RetrySchedule(), clock=clock,
    )  # fmt: skip
    while send():
        pass
    assert platform.accepted == [str(fine.event_id)]
    rows = {r.entry.event_id: r for r in outbox.rows(parked_only=False, limit=10)}
    assert rows[broken.event_id].status == "pending"
    assert rows[broken.event_id].last_error == "not sent: LookupError"
    assert rows[broken.event_id].next_attempt_at > clock.now()


def test_moving_an_old_endpoints_rows_gives_a_new_one_what_it_lacks_in_order(
    backend_env: dict[str, str],
) -> None:
    outbox = build_container(Settings.from_env(backend_env)).outbound.outbox()
    old, new = ENDPOINT, "https://platform.example/hooks/v2"
    delivered, parked, waiting, both, ahead = (uuid4() for _ in range(5))
    outbox.add(
        [entry(delivered, 2, 1), entry(parked, 2, 2), entry(waiting, 2, 3), entry(waiting, 3, 4),
         entry(ahead, 2, 5)],
        [old],
        Tracking("payments", 5),
    )  # fmt: skip
    outbox.add([entry(both, 2, 6)], [old, new], Tracking("payments", 6))  # both configured then
    outbox.add([entry(ahead, 3, 7)], [new], Tracking("payments", 7))  # after the switch
    clock = Clock()

    def dispatcher(endpoint: str, platform: Platform, give_up: timedelta) -> Callable[[], bool]:
        return partial(
            dispatch_one, outbox, {endpoint: platform}, render=lambda e: b"{}",
            schedule=RetrySchedule(give_up_after=give_up), clock=clock,
        )  # fmt: skip

    refusing = Platform(endpoint=old, refused={str(outbound_event_id(parked, 2))})
    at_old = dispatcher(old, refusing, timedelta(0))
    at_old(), at_old()  # the first is delivered; the second is refused and parked at once
    receiver = Platform(endpoint=new)
    at_new = dispatcher(new, receiver, timedelta(hours=72))
    at_new(), at_new()  # `both`, then the later event of `ahead`, reach the new endpoint
    assert outbox.health([new], clock.now()).stranded == 5  # all but `delivered`, at the old

    done = outbox.move(old, new, clock.now())

    assert (done.moved, done.dropped, done.late) == (4, 1, 1)  # `ahead` v2 arrives after its v3
    assert outbox.health([new], clock.now()).stranded == 0
    while at_new():
        pass
    expected = [(both, 2), (ahead, 3), (parked, 2), (waiting, 2), (waiting, 3), (ahead, 2)]
    assert sorted(receiver.accepted) == sorted(str(outbound_event_id(p, v)) for p, v in expected)
    order = [receiver.accepted.index(str(outbound_event_id(waiting, v))) for v in (2, 3)]
    assert order == sorted(order)  # in order per payment
    rows = {(r.entry.event_id, r.endpoint) for r in outbox.rows(parked_only=False, limit=20)}
    assert (outbound_event_id(delivered, 2), old) in rows  # delivered: kept, not sent again
    assert (outbound_event_id(both, 2), old) not in rows  # the copy the new endpoint had
