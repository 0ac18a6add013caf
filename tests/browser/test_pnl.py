"""An executive opens the P&L (contribution bridge, treemap, table with every contribution
term), clicks a tile to drill one level down and goes back with the breadcrumbs; no console
errors."""

from __future__ import annotations

import dash
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.test_home import screenshot, sign_in


@pytest.mark.browser
def test_an_executive_drills_the_pnl_by_clicking_a_tile(dash_duo, demo_app: dash.Dash) -> None:  # type: ignore[no-untyped-def]
    dash_duo.start_server(demo_app, navigate=False)
    sign_in(dash_duo, "exec", "/pnl?period=fiscal_year")
    dash_duo.wait_for_element("#pnl-treemap .main-svg", timeout=20)
    dash_duo.wait_for_element("#pnl-table .ag-row", timeout=20)
    dash_duo.wait_for_element("#pnl-contribution-bridge .main-svg", timeout=20)
    assert "Financing cost" in dash_duo.find_element("#pnl-contribution-bridge").text
    screenshot(dash_duo, "pnl-exec")
    tiles = dash_duo.driver.find_elements(By.CSS_SELECTOR, "#pnl-treemap g.slice")
    biggest = max(tiles, key=lambda tile: tile.size["width"] * tile.size["height"])
    ActionChains(dash_duo.driver).move_to_element(biggest).click().perform()
    dash_duo.wait_for_contains_text("#pnl-breadcrumbs", "Channel:", timeout=15)
    assert "at=" in dash_duo.driver.current_url
    dash_duo.wait_for_element("#pnl-table .ag-row", timeout=20)
    screenshot(dash_duo, "pnl-exec-drilled")
    dash_duo.find_element("#pnl-breadcrumbs a").click()
    wait = WebDriverWait(dash_duo.driver, 15,
                         ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda _: "Channel:" not in dash_duo.find_element("#pnl-breadcrumbs").text)
    dash_duo.wait_for_element("#pnl-treemap .main-svg", timeout=15)
    assert dash_duo.get_logs() == []
