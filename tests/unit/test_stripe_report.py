"""The Stripe workload's printed figures: the 128-client rate against the right ceiling."""

from typing import Any

from bench.stripe_workload import report_rows


def results(rate: float, clients: int = 128, **figures: Any) -> dict[str, Any]:
    """One client count's figures, as `measure` returns them; `figures` replaces some."""
    return {
        "latency_s": 0.3,
        "deadline_s": 10.0,
        "ramp_s": 0.3,
        str(clients): {
            "charges_per_second": rate,
            "ideal_per_second": round(clients / 0.3, 1),
            "by_status": {"201": {"count": 1536, "p50_ms": 310.0, "p99_ms": 370.0,
                                  "max_ms": 380.0}},
            "statuses": {"201": 1536},
            "timeouts": 0,
            "shed": 0,
            "shed_first_max_ms": 0.0,
            "shed_later_max_ms": 0.0,
            "live_p99_ms": 10.0,
            "live_max_ms": 11.0,
            "client_lag_p99_ms": 1.0,
            "client_lag_max_ms": 2.0,
            "errors_by_code": {},
            **figures,
        },
    }  # fmt: skip


def row(rows: list[tuple[str, ...]], figure: str) -> tuple[str, ...]:
    """The first row whose name holds `figure`."""
    return next(each for each in rows if figure in each[0])


def rate_row(rows: list[tuple[str, ...]]) -> tuple[str, ...]:
    return row(rows, "charges/s")


def test_without_a_simulated_run_the_rate_is_held_to_the_ideal_and_says_so() -> None:
    rate = rate_row(report_rows(results(380.0), None))
    assert rate[1:] == ("380", "ideal 427 (sim not run)", "0.89x", ">= 0.8x", "True")


def test_a_simulated_rate_below_the_ideal_is_the_ceiling() -> None:
    rate = rate_row(report_rows(results(300.0), 350.0))
    assert rate[2] == "min(sim 350, ideal 427)"
    assert rate[3:] == ("0.86x", ">= 0.8x", "True")


def test_a_rate_under_four_fifths_of_the_ceiling_is_not_met() -> None:
    rate = rate_row(report_rows(results(300.0), None))
    assert rate[3:] == ("0.70x", ">= 0.8x", "False")


def test_at_1024_clients_refusals_are_held_to_50_ms_and_the_rate_to_no_target() -> None:
    shed = {"count": 4000, "p50_ms": 6.0, "p99_ms": 40.0, "max_ms": 52.0}
    charged = {"count": 7600, "p50_ms": 330.0, "p99_ms": 700.0, "max_ms": 880.0}
    rows = report_rows(
        results(600.0, 1024, by_status={"201": charged, "503": shed},
                statuses={"201": 7600, "503": 4000}, shed=4000),
        None,
    )  # fmt: skip
    assert rate_row(rows)[4:] == ("", ""), "no rate target with 1,024 clients"
    assert row(rows, "statuses")[4:] == ("201 or 503", "True")
    assert row(rows, "shed 503")[4:] == ("max <= 50", "False"), "a refusal took 52 ms"
    assert row(rows, "201 p50")[4:] == ("max <= 10000", "True"), "within the deadline"
