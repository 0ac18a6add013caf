"""An executive opens the P&L (contribution bridge, treemap, table with every contribution
term), clicks a tile to drill one level down, downloads the drilled table as CSV and goes back
with the breadcrumbs; finance
opens the shipments and invoices behind a row's freight and financing cost; no console
errors."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import dash
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from dashboard.metrics.period import preset_period
from dashboard.metrics.pnl import pnl_by
from dashboard.metrics.scope import Scope
from tests.browser.test_home import csv_rows, download, screenshot, sign_in
from tests.dashboard.conftest import DemoMart
from tests.dashboard.metrics.test_pnl import company_rate


@pytest.mark.browser
def test_an_executive_drills_the_pnl_by_clicking_a_tile_and_exports(  # type: ignore[no-untyped-def]
        dash_duo, demo_app: dash.Dash, tmp_path: Path) -> None:
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
    drilled = csv_rows(download(dash_duo, "pnl", tmp_path))
    assert drilled and {"net_sales", "margin"} <= set(drilled[0])
    dash_duo.find_element("#pnl-breadcrumbs a").click()
    wait = WebDriverWait(dash_duo.driver, 15,
                         ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda _: "Channel:" not in dash_duo.find_element("#pnl-breadcrumbs").text)
    dash_duo.wait_for_element("#pnl-treemap .main-svg", timeout=15)
    assert dash_duo.get_logs() == []


@pytest.mark.browser
def test_finance_opens_the_shipments_and_invoices_behind_a_rows_costs(  # type: ignore[no-untyped-def]
        dash_duo, demo_app: dash.Dash, demo_mart: DemoMart) -> None:
    mart = demo_mart.mart
    period = preset_period("fiscal_year", mart.published_at.date())
    rep = pnl_by(mart, Scope("finance", 1, all_reps=True), period, "rep",
                 rate=company_rate(demo_mart))["value"][0]
    dash_duo.start_server(demo_app, navigate=False)
    sign_in(dash_duo, "finance",
            quote(f"/pnl?period=fiscal_year&path=rep,category&at={rep}", safe="/"))
    dash_duo.wait_for_element("#pnl-table .ag-row", timeout=20)
    # AG Grid renders the columns in view only: bring the link beside freight cost in.
    dash_duo.driver.execute_script(
        "dash_ag_grid.getApi('pnl-table').ensureColumnVisible('freight_link');")
    dash_duo.wait_for_element("#pnl-table .ag-row [col-id='freight_link'] a", timeout=20)
    screenshot(dash_duo, "pnl-drill-links-finance")
    dash_duo.find_element("#pnl-table .ag-row [col-id='freight_link'] a").click()
    dash_duo.wait_for_element("#documents-table .ag-row [col-id='shipment_number']", timeout=20)
    assert "kind=freight" in dash_duo.driver.current_url
    assert f"rep={rep}" in dash_duo.driver.current_url
    assert "freight cost" in dash_duo.find_element("#documents-total").text
    screenshot(dash_duo, "pnl-drill-freight-finance")
    dash_duo.find_element("#documents-tab-financing").click()
    dash_duo.wait_for_element("#documents-table .ag-row [col-id='document_number']", timeout=20)
    assert "kind=financing" in dash_duo.driver.current_url
    assert "category=" in dash_duo.driver.current_url  # the row's category kept
    assert "financing cost" in dash_duo.find_element("#documents-total").text
    assert "÷ 365" in dash_duo.find_element("#documents-rule").text
    screenshot(dash_duo, "pnl-drill-financing-finance")
    assert dash_duo.get_logs() == []
