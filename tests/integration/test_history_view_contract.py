"""One contract for the history view, run against every adapter of the port."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from adapters.eventstore import persistence_env
from adapters.history_views import history_view
from application.history import HistoryView
from application.ports import HistoryRow
from tests.fakes import InMemoryHistoryView

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def row(user: str, minute: int, status: str = "pending", amount: int = 1000) -> HistoryRow:
    at = T0 + timedelta(minutes=minute)
    return HistoryRow(
        id=uuid4(), user_id=user, amount=amount, currency="usd", status=status,
        charge_status=status, refunded_amount=0, course_id="c", created_at=at, updated_at=at,
    )  # fmt: skip


class HistoryViewContract:
    @pytest.fixture
    def view(self) -> HistoryView:
        raise NotImplementedError

    def test_rows_come_newest_first_with_a_total(self, view: HistoryView) -> None:
        rows = [row("alice", m) for m in (3, 1, 2)]
        for n, r in enumerate(rows, start=1):
            view.write_row(r, None, Tracking("payments", n))
        view.write_row(row("bob", 9), None, Tracking("payments", 4))
        page = view.page("alice", limit=2, offset=0, status=None)
        assert page.total == 3
        assert [r.created_at.minute for r in page.items] == [3, 2]
        assert [
            r.created_at.minute for r in view.page("alice", limit=2, offset=2, status=None).items
        ] == [1]
        assert view.max_tracking_id("payments") == 4

    def test_rows_are_read_many_at_once_and_a_batch_sees_its_own_writes(
        self, view: HistoryView
    ) -> None:
        from dataclasses import replace

        stored = [row("alice", m) for m in (1, 2)]
        for n, r in enumerate(stored, start=1):
            view.write_row(r, None, Tracking("payments", n))
        missing = uuid4()
        found = view.read_rows([stored[0].id, stored[1].id, missing])
        assert found == {r.id: r for r in stored}
        with view.batch(Tracking("payments", 3)):
            view.prefetch([stored[0].id, missing])
            assert view.find_row(stored[0].id) == stored[0]
            assert view.find_row(missing) is None
            moved = replace(stored[0], status="succeeded", charge_status="succeeded")
            view.write_row(moved, "pending", Tracking("payments", 3))
            assert view.find_row(stored[0].id) == moved
        assert view.find_row(stored[0].id) == moved
        assert view.page("alice", limit=10, offset=0, status="succeeded").total == 1

    def test_a_status_change_moves_the_counts(self, view: HistoryView) -> None:
        first = row("alice", 1)
        view.write_row(first, None, Tracking("payments", 1))
        view.write_row(row("alice", 2), None, Tracking("payments", 2))
        from dataclasses import replace

        view.write_row(
            replace(first, status="succeeded", charge_status="succeeded"),
            "pending",
            Tracking("payments", 3),
        )
        assert view.page("alice", limit=10, offset=0, status="succeeded").total == 1
        assert view.page("alice", limit=10, offset=0, status="pending").total == 1
        assert view.page("alice", limit=10, offset=0, status=None).total == 2
        found = view.find_row(first.id)
        assert found is not None and found.status == "succeeded"
        assert found.created_at == first.created_at

    def test_an_event_is_applied_at_most_once(self, view: HistoryView) -> None:
        first = row("alice", 1)
        view.write_row(first, None, Tracking("payments", 1))
        with pytest.raises(IntegrityError):
            view.write_row(row("alice", 2), None, Tracking("payments", 1))
        page = view.page("alice", limit=10, offset=0, status=None)
        assert page.total == 1 and [r.id for r in page.items] == [first.id]

    def test_clear_forgets_rows_counts_and_position(self, view: HistoryView) -> None:
        view.write_row(row("alice", 1), None, Tracking("payments", 1))
        view.clear()
        assert view.page("alice", limit=10, offset=0, status=None).total == 0
        assert not view.max_tracking_id("payments")


class TestInMemoryHistoryView(HistoryViewContract):
    @pytest.fixture
    def view(self) -> HistoryView:
        return InMemoryHistoryView()


class TestSQLiteHistoryView(HistoryViewContract):
    @pytest.fixture
    def view(self, tmp_path: Path) -> HistoryView:
        return history_view(persistence_env(None, tmp_path / "history.db"))


@pytest.mark.integration
class TestPostgresHistoryView(HistoryViewContract):
    @pytest.fixture
    def view(self, postgres_url: str, tmp_path: Path) -> HistoryView:
        return history_view(persistence_env(postgres_url, tmp_path / "unused.db"))
