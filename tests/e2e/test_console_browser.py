"""The operator console in Chromium, served for real on loopback, on SQLite and PostgreSQL."""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from application.operator_search import payment_query
from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.browser import CHROMIUM, CHROMIUM_ARGS, other_site, screenshot
from tests.conftest import eventually, make_token, unavailable
from tests.live_server import serving

pytestmark = pytest.mark.slow


@dataclass
class Service:
    url: str
    container: Container
    api: httpx.Client

    def pay(self, user: str, amount: int, course: str, **metadata: str) -> str:
        answer = self.api.post(
            "/api/payments/process",
            json={"amount": amount, "currency": "usd", "paymentMethodId": "pm_card_visa",
                  "courseId": course, "metadata": metadata},
            headers={"Authorization": f"Bearer {make_token(user)}"},
        )  # fmt: skip
        assert answer.status_code == 201, answer.text
        return str(answer.json()["paymentId"])

    def payment(self, payment_id: str) -> dict[str, Any]:
        admin = {"Authorization": f"Bearer {make_token('auditor', 'admin')}"}
        answer = self.api.get(f"/api/payments/{payment_id}", headers=admin)
        return dict(answer.json())

    def listed(self, count: int) -> bool:
        view = self.container.operator_view()
        return bool(eventually(lambda: view.search(payment_query()).total >= count, 5.0))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Playwright's loop runs on this thread while it is open: closed with this module."""
    if not CHROMIUM.exists():
        unavailable("Chromium (/usr/bin/chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    problems: list[str] = []
    opened.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    opened.on("pageerror", lambda error: problems.append(str(error)))
    yield opened
    context.close()
    assert not problems, f"the page broke its Content-Security-Policy or failed: {problems}"


@pytest.fixture
def service(
    backend_env: dict[str, str], make_container: Callable[[dict[str, str]], Container]
) -> Iterator[Service]:
    container = make_container(backend_env)
    with serving(create_app(container)) as url, httpx.Client(base_url=url, timeout=30) as api:
        yield Service(url, container, api)


def sign_in(page: Page, url: str, token: str) -> None:
    page.goto(f"{url}/console/login")
    page.get_by_test_id("login-token").fill(token)
    page.get_by_test_id("login-submit").click()


def search(page: Page, text: str) -> None:
    page.get_by_test_id("search-query").fill(text)
    page.get_by_test_id("search-submit").click()


def test_an_admin_finds_reads_and_refunds_a_payment(
    page: Page, service: Service, backend_env: dict[str, str]
) -> None:
    wanted = service.pay("cust-ada", 5000, "course-ts", courseTitle="<b>TypeScript</b>")
    other = service.pay("cust-ada", 7500, "course-go")
    service.pay("cust-bob", 2500, "course-ts")
    assert service.listed(3)

    page.goto(f"{service.url}/console")
    expect(page).to_have_url(re.compile(r"/console/login$"))
    if "PAYMENTS_DATABASE_URL" not in backend_env:
        screenshot(page, "login")
    sign_in(page, service.url, make_token("ops-1", "admin"))
    expect(page).to_have_url(re.compile(r"/console$"))
    expect(page.get_by_test_id("chain-state")).to_contain_text("Audit chain intact")
    expect(page.get_by_test_id("payment-row")).to_have_count(3)

    search(page, wanted)
    expect(page.get_by_test_id("payment-row")).to_have_count(1)
    expect(page.get_by_test_id("payment-row")).to_contain_text(wanted)

    search(page, "cust-ada")
    rows = page.get_by_test_id("payment-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(other)  # newest first
    expect(rows.nth(1)).to_contain_text(wanted)
    if "PAYMENTS_DATABASE_URL" not in backend_env:
        screenshot(page, "search")

    page.get_by_role("link", name=wanted).click()
    expect(page.get_by_test_id("payment-status")).to_have_text("succeeded")
    events = page.get_by_test_id("event-row")
    expect(events.filter(has_text="Initiated")).to_contain_text("by cust-ada")
    expect(events.filter(has_text="Succeeded")).to_contain_text("by cust-ada")
    expect(page.locator("main")).to_contain_text("<b>TypeScript</b>")  # shown, not run as HTML

    page.get_by_test_id("refund-amount").fill("10.00")
    page.get_by_test_id("refund-reason").fill("requested_by_customer")
    page.get_by_test_id("refund-submit").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Refunded 10.00 USD")
    expect(page.get_by_test_id("payment-status")).to_have_text("partially_refunded")
    expect(events.filter(has_text="Refunded")).to_contain_text("by ops-1")
    if "PAYMENTS_DATABASE_URL" not in backend_env:
        screenshot(page, "payment")
    assert service.payment(wanted)["refundedAmount"] == 1000


def test_a_refund_form_sent_twice_refunds_once(page: Page, service: Service) -> None:
    wanted = service.pay("cust-ada", 5000, "course-ts")
    sign_in(page, service.url, make_token("ops-1", "admin"))
    page.goto(f"{service.url}/console/payments/{wanted}")
    form = page.locator("form.refund-form")
    fields = {
        name: form.locator(f"input[name={name}]").input_value()
        for name in ("_csrf_token", "idempotency_key")
    }
    fields |= {"amount": "10.00", "reason": "double click"}
    action = f"{service.url}/console/payments/{wanted}/refund"
    for _ in range(2):  # what a double click sends: the same form twice
        sent = page.request.post(action, form=fields, max_redirects=0)
        assert sent.status == 303
    page.reload()
    expect(page.get_by_test_id("refund-row")).to_have_count(1)
    expect(page.get_by_test_id("payment-refunded")).to_have_text("10.00 USD")
    assert service.payment(wanted)["refundedAmount"] == 1000


def test_a_customer_token_gets_no_session(page: Page, service: Service) -> None:
    sign_in(page, service.url, make_token("cust-ada"))
    expect(page.get_by_test_id("flash")).to_contain_text("no admin role")
    assert not [c for c in page.context.cookies() if c["name"] == "payments_console"]
    page.goto(f"{service.url}/console")
    expect(page).to_have_url(re.compile(r"/console/login$"))


def test_a_request_without_a_session_is_sent_to_sign_in(page: Page, service: Service) -> None:
    wanted = service.pay("cust-ada", 5000, "course-ts")
    page.goto(f"{service.url}/console/payments/{wanted}")
    expect(page).to_have_url(re.compile(r"/console/login$"))
    expect(page.get_by_test_id("login-token")).to_be_visible()


def test_signing_out_ends_the_session(page: Page, service: Service) -> None:
    sign_in(page, service.url, make_token("ops-1", "admin"))
    copy = [c for c in page.context.cookies() if c["name"] == "payments_console"]
    page.get_by_test_id("logout-submit").click()
    expect(page).to_have_url(re.compile(r"/console/login$"))
    page.context.add_cookies(copy)  # a copy of the old cookie is no use either
    page.goto(f"{service.url}/console")
    expect(page).to_have_url(re.compile(r"/console/login$"))


def test_a_cross_site_refund_post_changes_nothing(page: Page, service: Service) -> None:
    wanted = service.pay("cust-ada", 5000, "course-ts")
    sign_in(page, service.url, make_token("ops-1", "admin"))
    expect(page).to_have_url(re.compile(r"/console$"))
    forged = (
        f'<form method="post" action="{service.url}/console/payments/{wanted}/refund">'
        '<input name="amount" value="50.00"><input name="reason" value="forged">'
        '<input name="idempotency_key" value="forged-1"><button id="go">Win</button></form>'
    )
    with other_site(forged) as site:
        page.goto(site.url)
        with page.expect_response(lambda r: r.url.endswith("/refund")) as answer:
            page.locator("#go").click()
        assert answer.value.status == 403
    # The same post sent with the session cookie (no SameSite help): refused for its CSRF token.
    direct = page.request.post(
        f"{service.url}/console/payments/{wanted}/refund",
        form={"amount": "50.00", "reason": "forged", "idempotency_key": "forged-2"},
        max_redirects=0,
    )
    assert direct.status == 403
    payment = service.payment(wanted)
    assert payment["refundedAmount"] == 0 and payment["refunds"] == []
    assert payment["status"] == "succeeded"
