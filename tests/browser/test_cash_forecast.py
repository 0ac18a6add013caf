"""The Cash forecast page in the browser: finance sees the fan chart and the backtest, picks
a customer who pays 30 days later and leaves out customers on hold; the URL keeps the
scenario and the figures follow. No console errors."""

from __future__ import annotations

import dash
import pytest
from selenium.common.exceptions import (
    ElementNotInteractableException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.test_home import screenshot, sign_in

SHIFT_CUSTOMER = '#\\{\\"name\\"\\:\\"shift_customer\\"\\,\\"type\\"\\:\\"view-param\\"\\}'
SHIFT_DAYS = '#\\{\\"name\\"\\:\\"shift_days\\"\\,\\"type\\"\\:\\"view-param\\"\\}'
EXCLUDE = '#\\{\\"name\\"\\:\\"exclude\\"\\,\\"type\\"\\:\\"view-param\\"\\}'


def _type_into(dash_duo, selector: str, text: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    """Type ``text`` and Enter into the field of ``selector`` until the URL holds
    ``expected``. The page re-renders from the URL after each change; a field replaced by
    that re-render (before the debounced value reached the URL) loses what was typed, so
    type it again into the new one."""
    def typed(driver) -> bool:  # type: ignore[no-untyped-def]
        if expected in driver.current_url:
            return True
        field = driver.find_element(By.CSS_SELECTOR, selector)
        field.clear()
        field.send_keys(text, Keys.ENTER)
        try:
            WebDriverWait(driver, 3).until(lambda d: expected in d.current_url)
        except TimeoutException:
            return False
        return True

    WebDriverWait(dash_duo.driver, 30, ignored_exceptions=(
        StaleElementReferenceException, ElementNotInteractableException)).until(typed)


@pytest.mark.browser
def test_finance_runs_a_scenario_on_the_cash_forecast(dash_duo, demo_app: dash.Dash) -> None:  # type: ignore[no-untyped-def]
    dash_duo.start_server(demo_app, navigate=False)
    sign_in(dash_duo, "finance", "/cash-forecast")
    dash_duo.wait_for_element("#cash-forecast-fan .main-svg", timeout=20)
    dash_duo.wait_for_element("#cash-forecast-backtest .bars path", timeout=20)
    dash_duo.wait_for_element("#cash-forecast-customers .ag-row", timeout=20)
    assert dash_duo.find_element("#cash-forecast-wape").text.endswith("%")
    before = dash_duo.find_element("#cash-forecast-near").text
    wait = WebDriverWait(dash_duo.driver, 20,
                         ignored_exceptions=(StaleElementReferenceException,))

    dash_duo.select_dcc_dropdown(SHIFT_CUSTOMER, index=0)
    wait.until(lambda driver: "shift_customer=" in driver.current_url)
    _type_into(dash_duo, SHIFT_DAYS, "30", "shift_days=30")
    wait.until(lambda _: "pays 30 days later"
               in dash_duo.find_element("#cash-forecast-scenario-note").text)
    hold = dash_duo.driver.find_element(By.CSS_SELECTOR, f"{EXCLUDE} input[value='hold']")
    hold.click()
    wait.until(lambda driver: "exclude=hold" in driver.current_url)
    wait.until(lambda _: "on hold left out"
               in dash_duo.find_element("#cash-forecast-scenario-note").text)
    dash_duo.wait_for_element("#cash-forecast-fan .main-svg", timeout=20)
    assert dash_duo.find_element("#cash-forecast-near").text != before
    dash_duo.wait_for_element("#cash-forecast-customers .ag-row", timeout=20)
    screenshot(dash_duo, "cash-forecast-finance")
    assert dash_duo.get_logs() == []


@pytest.mark.browser
def test_a_rep_cannot_open_the_cash_forecast(dash_duo, demo_app: dash.Dash) -> None:  # type: ignore[no-untyped-def]
    dash_duo.start_server(demo_app, navigate=False)
    sign_in(dash_duo, "rep", "/cash-forecast")
    dash_duo.wait_for_element("#no-access", timeout=20)
    assert not dash_duo.driver.find_elements(By.CSS_SELECTOR, "#cash-forecast-fan")
    assert "Cash forecast" not in dash_duo.find_element("nav").text
    assert dash_duo.get_logs() == []
