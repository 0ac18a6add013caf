"""Finance opens AR aging, moves the as-of date back, sees the charts and table follow,
drills into a customer's open items and downloads them and the aging as CSV; switches to
document currency and opens the allocations of an invoice. Screenshots:
var/screenshots/ar-aging-*.png and /tmp/ar-aging-document*.png."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dash
import pytest
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.test_home import SCREENSHOTS, csv_rows, download, screenshot, sign_in

AS_OF_INPUT = 'input[id*="as_of"][id*="view-date"]'


def _move_as_of(dash_duo, as_of: date) -> None:  # type: ignore[no-untyped-def]
    """Type ``as_of`` into the as-of picker and wait until the page shows that day."""
    before = dash_duo.find_element("#ar-aging-total").text
    field = dash_duo.find_element(AS_OF_INPUT)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(as_of.isoformat(), Keys.ENTER)
    # The page re-renders from the URL: an element read mid-render goes stale; read again.
    wait = WebDriverWait(dash_duo.driver, 15,
                         ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda driver: f"as_of={as_of.isoformat()}" in driver.current_url)
    wait.until(lambda _: f"{as_of:%d %b %Y}" in dash_duo.find_element(
        "#ar-aging-as-of-label").text)
    wait.until(lambda _: dash_duo.find_element("#ar-aging-total").text != before)


def _click_link(dash_duo, selector: str, text: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """Click the first link of ``selector`` (with ``text``), scrolled to the middle of the
    window; again while a re-render's loading overlay takes the click or replaces it."""
    def click(driver) -> bool:  # type: ignore[no-untyped-def]
        link = next(link for link in driver.find_elements(By.CSS_SELECTOR, selector)
                    if text is None or link.text == text)
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
        link.click()
        return True

    WebDriverWait(dash_duo.driver, 15, ignored_exceptions=(
        StaleElementReferenceException, ElementClickInterceptedException,
        StopIteration)).until(click)


@pytest.mark.browser
def test_finance_changes_the_as_of_date_drills_into_a_customer_and_exports(  # type: ignore[no-untyped-def]
        dash_duo, demo_app: dash.Dash, tmp_path: Path) -> None:
    dash_duo.start_server(demo_app, navigate=False)
    sign_in(dash_duo, "finance", "/ar-aging")
    dash_duo.wait_for_element("#ar-aging-buckets .main-svg", timeout=20)
    as_of = date.today() - timedelta(days=91)
    _move_as_of(dash_duo, as_of)
    for chart in ("#ar-aging-buckets", "#ar-aging-customers"):
        dash_duo.wait_for_element(f"{chart} .bars path", timeout=15)
        assert dash_duo.driver.find_elements(By.CSS_SELECTOR, f"{chart} .bars path"), chart
    # A window tall enough for the whole page: the screenshot shows the tables too.
    dash_duo.driver.set_window_size(1400, 2000)
    dash_duo.wait_for_element("#ar-aging-table .ag-row a", timeout=15)
    _click_link(dash_duo, "#ar-aging-table .ag-row a", "List")
    dash_duo.wait_for_element("#ar-aging-items .ag-row", timeout=15)
    assert f"as_of={as_of.isoformat()}" in dash_duo.driver.current_url
    assert "customer=" in dash_duo.driver.current_url
    dash_duo.wait_for_element("#ar-aging-table .ag-row a", timeout=15)  # its rows loaded again
    screenshot(dash_duo, "ar-aging-finance")
    customer = parse_qs(urlsplit(dash_duo.driver.current_url).query)["customer"][0]
    items = csv_rows(download(dash_duo, "ar-open-items", tmp_path))
    assert items and {row["customer_id"] for row in items} == {customer}
    assert csv_rows(download(dash_duo, "ar-aging", tmp_path))
    assert dash_duo.get_logs() == []


@pytest.mark.browser
def test_finance_opens_a_customer_statement_from_the_aging_and_prints_it(  # type: ignore[no-untyped-def]
        dash_duo, demo_app: dash.Dash) -> None:
    """Screenshots: ar-aging-finance-today.png (the page as it opens), then after moving the
    as-of date ar-aging-finance-back-dated.png and its grid's credit columns
    ar-aging-finance-credit.png, the statement statement-finance.png and how it prints
    statement-finance-print.png."""
    dash_duo.start_server(demo_app, navigate=False)
    sign_in(dash_duo, "finance", "/ar-aging")
    dash_duo.wait_for_element("#ar-aging-buckets .main-svg", timeout=20)
    dash_duo.wait_for_element("#ar-aging-top-overdue a", timeout=15)
    assert dash_duo.find_element("#ar-aging-cei").text.endswith("%")
    screenshot(dash_duo, "ar-aging-finance-today")
    as_of = date.today() - timedelta(days=30)
    _move_as_of(dash_duo, as_of)
    dash_duo.wait_for_element("#ar-aging-table .ag-row", timeout=15)
    screenshot(dash_duo, "ar-aging-finance-back-dated")
    # The credit columns, at the right end of the grid.
    dash_duo.driver.execute_script(
        "dash_ag_grid.getApi('ar-aging-table').ensureColumnVisible('statement')")
    dash_duo.wait_for_element("#ar-aging-table .ag-cell[col-id='credit_status']", timeout=15)
    dash_duo.driver.execute_script(
        "document.getElementById('ar-aging-table').scrollIntoView()")
    dash_duo.driver.save_screenshot(str(SCREENSHOTS / "ar-aging-finance-credit.png"))
    customer = dash_duo.find_element("#ar-aging-top-overdue tbody tr td:nth-child(2) a").text
    statement = next(link for link in dash_duo.driver.find_elements(
        By.CSS_SELECTOR, "#ar-aging-top-overdue a") if link.text == "Statement")
    statement.click()
    dash_duo.wait_for_element("#statement-closing", timeout=15)
    assert "/statement?customer=" in dash_duo.driver.current_url
    assert customer in dash_duo.find_element("#statement-address").text
    assert f"{as_of:%d %b %Y}" in dash_duo.find_element("#statement").text
    screenshot(dash_duo, "statement-finance")
    # The Print button prints (window.print is replaced to see the call).
    dash_duo.driver.execute_script("window.print = () => { window.printed = true; };")
    dash_duo.find_element("#statement-print").click()
    assert dash_duo.driver.execute_script("return window.printed === true")
    dash_duo.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not dash_duo.find_element("#shell-navbar").is_displayed()
    assert not dash_duo.find_element("#statement-print").is_displayed()
    assert dash_duo.find_element("#statement-closing").is_displayed()
    screenshot(dash_duo, "statement-finance-print")
    assert dash_duo.get_logs() == []


@pytest.mark.browser
def test_finance_switches_to_document_currency_and_opens_an_invoices_allocations(  # type: ignore[no-untyped-def]
        dash_duo, demo_app: dash.Dash) -> None:
    """Screenshots: /tmp/ar-aging-document.png (charts by currency; also in
    var/screenshots/ar-aging-document.png) and ar-aging-document-allocations.png."""
    dash_duo.start_server(demo_app, navigate=False)
    sign_in(dash_duo, "finance", "/ar-aging")
    dash_duo.wait_for_element("#ar-aging-buckets .main-svg", timeout=20)
    total = dash_duo.find_element("#ar-aging-total").text
    dash_duo.driver.find_element(By.XPATH, "//label[text()='Document currency']").click()
    wait = WebDriverWait(dash_duo.driver, 15,
                         ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda driver: "currency=document" in driver.current_url)
    wait.until(lambda _: "EUR · Euro" in dash_duo.find_element("#ar-aging-buckets").text)
    wait.until(lambda _: "Open amount (EUR)" in dash_duo.find_element(
        "#ar-aging-customers").text)
    assert dash_duo.find_element("#ar-aging-total").text == total  # cards stay in base
    assert "(USD)" in dash_duo.find_element("#ar-aging-kpis").text
    dash_duo.wait_for_element("#ar-aging-table .ag-row", timeout=15)
    pinned = dash_duo.driver.find_elements(By.CSS_SELECTOR,
                                           "#ar-aging-table .ag-floating-bottom .ag-row")
    assert len(pinned) >= 2  # a totals row per currency
    dash_duo.driver.set_window_size(1400, 2400)
    dash_duo.driver.execute_script("window.scrollTo(0, 0)")
    dash_duo.driver.save_screenshot("/tmp/ar-aging-document.png")
    screenshot(dash_duo, "ar-aging-document")
    _click_link(dash_duo, "#ar-aging-table .ag-row a", "List")
    dash_duo.wait_for_element("#ar-aging-items .ag-row a", timeout=15)
    _click_link(dash_duo, "#ar-aging-items .ag-row a")
    wait.until(lambda driver: "item=" in driver.current_url)
    wait.until(lambda _: "Allocations of " in dash_duo.find_element(
        "#ar-aging-allocations-title").text)
    assert "currency=document" in dash_duo.driver.current_url
    dash_duo.wait_for_element("#ar-aging-allocations .ag-row", timeout=15)
    screenshot(dash_duo, "ar-aging-document-allocations")  # the whole page
    dash_duo.driver.save_screenshot("/tmp/ar-aging-document-allocations.png")
    assert dash_duo.get_logs() == []
