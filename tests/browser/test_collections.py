"""Finance opens the collections worklist, selects the riskiest invoice, logs a call with a
promise to pay and sees both in the row; a rep sees the list read-only. Screenshots:
var/screenshots/collections-form-finance.png, collections-finance.png, collections-rep.png.
The rep downloads the list as CSV.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.test_home import csv_rows, download, screenshot, sign_in
from tests.dashboard.conftest import Writable

FIRST_ROW = "#collections-worklist .ag-center-cols-container .ag-row[row-index='0']"
MODAL = ".modal.show"


def _field(dash_duo, name: str):  # type: ignore[no-untyped-def]
    return dash_duo.find_element(f"{MODAL} [id*='\"field\":\"{name}\"']")


def _type_date(element, day: date) -> None:  # type: ignore[no-untyped-def]
    """Chromium's date input takes the digits in its locale's order (en-US: mm dd yyyy)."""
    element.send_keys(f"{day:%m%d%Y}")


@pytest.mark.browser
def test_finance_logs_a_call_with_a_promise_and_sees_it_in_the_row(  # type: ignore[no-untyped-def]
        dash_duo, writable: Writable) -> None:
    dash_duo.start_server(writable.app, navigate=False)
    dash_duo.driver.set_window_size(1400, 1100)
    sign_in(dash_duo, "finance", "/collections")
    dash_duo.wait_for_element(f"{FIRST_ROW} [col-id='document_number']", timeout=20)
    invoice = dash_duo.find_element(f"{FIRST_ROW} [col-id='document_number']")
    number = invoice.text
    invoice.click()
    wait = WebDriverWait(dash_duo.driver, 15,
                         ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda _: dash_duo.find_element("#collections-log").is_enabled())
    assert number in dash_duo.find_element("#collections-selected").text
    dash_duo.find_element("#collections-log").click()
    dash_duo.wait_for_element(f"{MODAL} #collections-form-invoice-label", timeout=10)
    wait.until(lambda _: number in dash_duo.find_element("#collections-form-invoice-label").text)
    promise, follow_up = (writable.today + timedelta(days=5),
                          writable.today + timedelta(days=8))
    _field(dash_duo, "notes").send_keys("Spoke to Pat in AP: paying on the next run")
    _type_date(_field(dash_duo, "next_contact_date"), follow_up)
    _type_date(_field(dash_duo, "promise_to_pay_date"), promise)
    screenshot(dash_duo, "collections-form-finance")
    dash_duo.find_element("#collections-form-save").click()
    dash_duo.wait_for_element("#collections-saved", timeout=15)
    wait.until(lambda driver: not driver.find_elements(By.CSS_SELECTOR, MODAL))

    def cell(column: str) -> str:
        return str(dash_duo.find_element(f"{FIRST_ROW} [col-id='{column}']").text)

    wait.until(lambda _: "paying on the next run" in cell("last_contact"))
    assert cell("last_contact").startswith("Call: ")
    assert cell("invoice_promise_date") == cell("customer_promise_date") == promise.isoformat()
    assert cell("next_contact_date") == follow_up.isoformat()
    assert cell("last_contact_on") == writable.today.isoformat()
    assert cell("document_number") == number
    dash_duo.driver.set_window_size(1400, 1100)
    screenshot(dash_duo, "collections-finance")
    assert dash_duo.get_logs() == []


@pytest.mark.browser
def test_a_rep_sees_the_worklist_read_only_and_downloads_it(  # type: ignore[no-untyped-def]
        dash_duo, writable: Writable, tmp_path: Path) -> None:
    dash_duo.start_server(writable.app, navigate=False)
    sign_in(dash_duo, "rep", "/collections")
    dash_duo.wait_for_element(f"{FIRST_ROW} [col-id='document_number']", timeout=20)
    assert "Read-only" in dash_duo.find_element("#collections-read-only").text
    assert not dash_duo.driver.find_elements(By.CSS_SELECTOR, "#collections-log")
    screenshot(dash_duo, "collections-rep")
    first = dash_duo.find_element(f"{FIRST_ROW} [col-id='document_number']").text
    rows = csv_rows(download(dash_duo, "collections", tmp_path))
    assert rows and rows[0]["document_number"] == first  # the same list, riskiest first
    assert dash_duo.get_logs() == []
