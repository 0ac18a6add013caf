"""An executive's long Documents list in the browser: rows arrive block by block as the
grid scrolls, a click on a header sorts on the server, no console errors."""

from __future__ import annotations

import dash
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from dashboard.components.paged_table import BLOCK_ROWS
from tests.browser.test_home import screenshot, sign_in

ROWS = "#documents-table .ag-center-cols-container .ag-row"


def _loaded(driver, column: str) -> dict[int, str]:  # type: ignore[no-untyped-def]
    """The rendered rows' ``column`` cell text by row index (rows still loading are left
    out)."""
    cells = {}
    for row in driver.find_elements(By.CSS_SELECTOR, ROWS):
        text = row.find_element(By.CSS_SELECTOR, f"[col-id='{column}']").text.strip()
        if text:
            cells[int(row.get_attribute("row-index"))] = text
    return cells


def _first(driver) -> list[float]:  # type: ignore[no-untyped-def]
    """The net sales of the first ten rows, as far as they are loaded."""
    shown = _loaded(driver, "net_sales_minor")
    return [float(shown[i].replace("\u2212", "-").replace(",", ""))
            for i in sorted(shown) if i < 10]


@pytest.mark.browser
def test_an_executive_scrolls_and_sorts_the_documents_list(dash_duo, demo_app: dash.Dash) -> None:  # type: ignore[no-untyped-def]
    dash_duo.start_server(demo_app, navigate=False)
    sign_in(dash_duo, "exec", "/documents?period=fiscal_year&kind=sales")
    dash_duo.wait_for_element(f"{ROWS} [col-id='document_number']", timeout=15)
    total = dash_duo.find_element("#documents-total").text
    assert int(total.split()[0].replace(",", "")) > BLOCK_ROWS, total
    wait = WebDriverWait(dash_duo.driver, 15,
                         ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda driver: len(_first(driver)) == 10)
    newest_first = _first(dash_duo.driver)
    screenshot(dash_duo, "documents-sales-exec")
    dash_duo.driver.execute_script(
        "const v = document.querySelector('#documents-table .ag-body-viewport');"
        "v.scrollTop = v.scrollHeight;")
    wait.until(lambda driver: max(_loaded(driver, "document_number"), default=0) >= BLOCK_ROWS)
    dash_duo.driver.execute_script(
        "document.querySelector('#documents-table .ag-body-viewport').scrollTop = 0;")
    dash_duo.find_element(
        "#documents-table .ag-header-cell[col-id='net_sales_minor'] .ag-header-cell-label"
    ).click()  # ascending

    def sorted_rows(driver) -> bool:  # type: ignore[no-untyped-def]
        first = _first(driver)
        return len(first) == 10 and first == sorted(first) != newest_first

    wait.until(sorted_rows)
    screenshot(dash_duo, "documents-sales-exec-sorted")
    assert dash_duo.get_logs() == []
