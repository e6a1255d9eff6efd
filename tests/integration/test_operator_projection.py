"""The operator read model follows the event log, and a rebuild gives the same rows."""

from collections.abc import Callable

import pytest

from application.operator_search import payment_query
from entrypoints.container import Container
from tests.generated import Expected, generate

pytestmark = pytest.mark.integration


def rows_by_id(container: Container) -> dict[str, tuple[str, int, str | None]]:
    view = container.operator_view()
    page = view.search(payment_query(limit=100))
    found = {}
    for offset in range(0, page.total, 100):
        for row in view.search(payment_query(limit=100, offset=offset)).items:
            found[str(row.id)] = (row.status, row.refunded_amount, row.intent_id)
    return found


def test_every_payment_is_listed_with_its_status_refunds_and_intent(
    backend_env: dict[str, str], make_container: Callable[[dict[str, str]], Container]
) -> None:
    container = make_container(backend_env)
    store, runner = container.payment_store(), container.operator_runner()
    expected = Expected()
    for chunk in range(3):  # the view follows the log as it grows
        part = generate(store, 120, prefix=f"op{chunk}")
        expected.status.update(part.status)
        expected.refunded.update(part.refunded)
        runner.run_once()

    live = rows_by_id(container)
    assert {k: v[:2] for k, v in live.items()} == {
        str(pid): (expected.status[pid], expected.refunded[pid]) for pid in expected.status
    }
    assert all(intent and intent.startswith("pi_op") for _, _, intent in live.values())
    assert {"refunded", "partially_refunded", "failed", "succeeded"} <= {
        s for s, _, _ in live.values()
    }

    runner.rebuild()
    assert rows_by_id(container) == live
