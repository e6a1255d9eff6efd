"""Event-store steps written once: run whole in a thread over synchronous stores."""

import asyncio
import threading

import pytest

from adapters.wallet_store import EventSourcedWalletStore
from application.awaited import EventStoreSteps, run_now
from application.ports import AwaitableWalletStore, AwaitableWebhookStore
from tests.unit.webhook_streams import memory_store


async def answer() -> int:
    return 42


async def suspends() -> int:
    await asyncio.sleep(0)
    return 1


def test_a_step_that_never_suspends_runs_to_its_end_at_once() -> None:
    assert run_now(answer()) == 42


def test_a_step_that_suspends_is_refused_not_left_half_run() -> None:
    with pytest.raises(RuntimeError, match="suspended"):
        run_now(suspends())


def test_without_awaitable_stores_a_step_runs_whole_in_one_worker_thread() -> None:
    store = memory_store()
    steps = EventStoreSteps(store=store, wallets=EventSourcedWalletStore(store.app))
    threads: list[str] = []

    async def step(payments: AwaitableWebhookStore, wallets: AwaitableWalletStore) -> None:
        threads.append(threading.current_thread().name)
        await wallets.find("nobody")
        await payments.find_receipt("evt_none")
        threads.append(threading.current_thread().name)

    asyncio.run(steps.run(step))
    assert len(set(threads)) == 1 and threads[0] != threading.main_thread().name
