"""Finance opens AR aging, moves the as-of date back, sees the charts and table follow, and
drills into a customer's open items. Screenshot: var/screenshots/ar-aging-finance.png."""

from __future__ import annotations

from datetime import date, timedelta

import dash
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.test_home import screenshot, sign_in

AS_OF_INPUT = 'input[id*="as_of"][id*="view-date"]'


@pytest.mark.browser
def test_finance_changes_the_as_of_date_and_drills_into_a_customer(  # type: ignore[no-untyped-def]
        dash_duo, demo_app: dash.Dash) -> None:
    dash_duo.start_server(demo_app, navigate=False)
    sign_in(dash_duo, "finance", "/ar-aging")
    dash_duo.wait_for_element("#ar-aging-buckets .main-svg", timeout=20)
    before = dash_duo.find_element("#ar-aging-total").text
    as_of = date.today() - timedelta(days=91)
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
    for chart in ("#ar-aging-buckets", "#ar-aging-customers"):
        dash_duo.wait_for_element(f"{chart} .bars path", timeout=15)
        assert dash_duo.driver.find_elements(By.CSS_SELECTOR, f"{chart} .bars path"), chart
    # A window tall enough for the whole page: the screenshot shows the tables too.
    dash_duo.driver.set_window_size(1400, 2000)
    dash_duo.wait_for_element("#ar-aging-table .ag-row a", timeout=15)
    drill = dash_duo.driver.find_elements(By.CSS_SELECTOR, "#ar-aging-table .ag-row a")
    next(link for link in drill if link.text == "List").click()
    dash_duo.wait_for_element("#ar-aging-items .ag-row", timeout=15)
    assert f"as_of={as_of.isoformat()}" in dash_duo.driver.current_url
    assert "customer=" in dash_duo.driver.current_url
    screenshot(dash_duo, "ar-aging-finance")
    assert dash_duo.get_logs() == []
