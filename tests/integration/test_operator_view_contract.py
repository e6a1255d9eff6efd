"""One contract for the operator read model, run against its SQLite and PostgreSQL views."""

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from adapters import operator_sql
from adapters.eventstore import persistence_env
from adapters.history_views import close_view, operator_view
from application.operator_projection import OperatorView
from application.operator_search import OperatorRow, payment_query

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def row(user: str, day: int, *, status: str = "succeeded", course: str | None = "c-1",
        intent: str | None = None) -> OperatorRow:  # fmt: skip
    at = T0 + timedelta(days=day)
    return OperatorRow(
        id=uuid4(), user_id=user, amount=1000 + day, currency="usd", status=status,
        charge_status=status, refunded_amount=0, course_id=course,
        intent_id=intent or f"pi_{uuid4().hex[:14]}", created_at=at, updated_at=at,
    )  # fmt: skip


def given(view: OperatorView, *rows: OperatorRow) -> None:
    for n, r in enumerate(rows, start=1):
        view.write_row(r, Tracking("payments", n))


class OperatorViewContract:
    @pytest.fixture
    def view(self) -> OperatorView:
        raise NotImplementedError

    def test_everyone_s_payments_come_newest_first_with_a_total(self, view: OperatorView) -> None:
        given(view, row("alice", 1), row("bob", 3), row("carol", 2))
        page = view.search(payment_query(limit=2))
        assert page.total == 3
        assert [r.user_id for r in page.items] == ["bob", "carol"]
        assert [r.user_id for r in view.search(payment_query(limit=2, offset=2)).items] == ["alice"]

    def test_one_box_finds_a_payment_an_intent_a_user_or_a_course(self, view: OperatorView) -> None:
        wanted = row("alice", 1, course="course-9", intent="pi_wanted")
        given(view, wanted, row("alice", 2), row("bob", 3, course="course-9"), row("dave", 4))
        assert [r.id for r in view.search(payment_query(str(wanted.id))).items] == [wanted.id]
        assert [r.id for r in view.search(payment_query("pi_wanted")).items] == [wanted.id]
        assert view.search(payment_query("alice")).total == 2
        assert {r.user_id for r in view.search(payment_query("course-9")).items} == {
            "alice",
            "bob",
        }
        assert view.search(payment_query("nobody")).total == 0

    def test_one_id_that_is_a_user_and_a_course_lists_each_payment_once(
        self, view: OperatorView
    ) -> None:
        both = row("shared", 2, course="shared")
        given(view, row("shared", 1), both, row("bob", 3, course="shared"))
        page = view.search(payment_query("shared", limit=2))
        assert page.total == 3
        assert [r.created_at.day for r in page.items] == [4, 3]
        assert [r.id for r in view.search(payment_query("shared", offset=1, limit=1)).items] == [
            both.id
        ]

    def test_counting_stops_at_the_cap(
        self, view: OperatorView, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(operator_sql, "COUNT_CAP", 2)
        given(view, row("alice", 1), row("alice", 2), row("alice", 3))
        page = view.search(payment_query("alice"))
        assert (page.total, page.more, len(page.items)) == (2, True, 3)
        exact = view.search(payment_query("alice", status="succeeded", created_to=date(2026, 3, 3)))
        assert (exact.total, exact.more) == (2, False)

    def test_status_and_dates_narrow_the_search(self, view: OperatorView) -> None:
        given(view, row("alice", 1), row("alice", 2, status="failed"), row("alice", 5))
        assert view.search(payment_query("alice", status="failed")).total == 1
        first_days = payment_query(
            created_from=date(2026, 3, 2), created_to=date(2026, 3, 3), status="succeeded"
        )
        found = view.search(first_days).items
        assert [r.created_at for r in found] == [T0 + timedelta(days=1)]

    def test_a_row_is_updated_in_place(self, view: OperatorView) -> None:
        first = row("alice", 1, status="pending")
        given(view, first)
        view.write_row(replace(first, status="refunded", refunded_amount=1001), Tracking("p", 9))
        page = view.search(payment_query(str(first.id)))
        assert page.total == 1
        assert (page.items[0].status, page.items[0].refunded_amount) == ("refunded", 1001)
        assert page.items[0].created_at == first.created_at
        assert view.search(payment_query(status="pending")).total == 0

    def test_rows_are_read_many_at_once_and_a_batch_sees_its_own_writes(
        self, view: OperatorView
    ) -> None:
        stored = [row("alice", 1, status="pending"), row("bob", 2)]
        given(view, *stored)
        missing = uuid4()
        assert view.read_rows([stored[0].id, stored[1].id, missing]) == {r.id: r for r in stored}
        moved = replace(stored[0], status="succeeded", charge_status="succeeded")
        with view.batch(Tracking("payments", 3)):
            view.prefetch([stored[0].id, missing])
            assert view.find_row(stored[0].id) == stored[0]
            assert view.find_row(missing) is None
            view.write_row(moved, Tracking("payments", 3))
            assert view.find_row(stored[0].id) == moved
        assert view.find_row(stored[0].id) == moved

    def test_an_event_is_applied_at_most_once(self, view: OperatorView) -> None:
        first = row("alice", 1)
        given(view, first)
        with pytest.raises(IntegrityError):
            view.write_row(row("alice", 2), Tracking("payments", 1))
        assert [r.id for r in view.search(payment_query()).items] == [first.id]

    def test_clear_forgets_rows_and_position(self, view: OperatorView) -> None:
        given(view, row("alice", 1))
        view.clear()
        assert view.search(payment_query()).total == 0
        assert not view.max_tracking_id("payments")


class TestSQLiteOperatorView(OperatorViewContract):
    @pytest.fixture
    def view(self, tmp_path: Path) -> OperatorView:
        return operator_view(persistence_env(None, tmp_path / "operator.db"))


@pytest.mark.integration
class TestPostgresOperatorView(OperatorViewContract):
    @pytest.fixture
    def view(self, postgres_url: str, tmp_path: Path) -> Iterator[OperatorView]:
        made = operator_view(persistence_env(postgres_url, tmp_path / "unused.db"))
        yield made
        close_view(made)
