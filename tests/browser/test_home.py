"""Each role signs in through the login form and sees its home page: KPI cards, non-empty
charts, no browser console errors. Screenshots go to var/screenshots/."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import dash
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

SCREENSHOTS = Path("var/screenshots")


def sign_in(dash_duo, username: str, path: str = "/") -> None:  # type: ignore[no-untyped-def]
    dash_duo.driver.get(f"{dash_duo.server.url}/login?next={path}")
    dash_duo.find_element("#username").send_keys(username)
    dash_duo.find_element("#password").send_keys("demo")
    dash_duo.find_element("#login-submit").click()


def download(dash_duo, table: str, folder: Path, fmt: str = "csv") -> Path:  # type: ignore[no-untyped-def]
    """Click ``table``'s ``fmt`` export button and wait for the file Chromium saves into
    ``folder``; the page stays where it was."""
    dash_duo.driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                                    {"behavior": "allow", "downloadPath": str(folder)})
    page = dash_duo.driver.current_url
    button = (f"button[id*='\"table\":\"{table}\"']"
              f"[id*='\"format\":\"{fmt}\"']")
    dash_duo.find_element(button).click()
    WebDriverWait(dash_duo.driver, 30).until(
        lambda _: list(folder.glob(f"{table}-*.{fmt}")))  # named once complete
    assert dash_duo.driver.current_url == page
    (saved,) = folder.glob(f"{table}-*.{fmt}")
    return saved


def csv_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a downloaded CSV export."""
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def screenshot(dash_duo, name: str) -> None:  # type: ignore[no-untyped-def]
    """The whole page (the window grows to the document's height first)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = dash_duo.driver.execute_script("return document.body.scrollHeight")
    dash_duo.driver.set_window_size(1280, min(int(height) + 140, 4000))
    dash_duo.driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


@pytest.mark.browser
@pytest.mark.parametrize("username", ["rep", "manager", "finance", "exec"])
def test_each_role_signs_in_and_sees_its_home_page(dash_duo, demo_app: dash.Dash,  # type: ignore[no-untyped-def]
                                                    username: str) -> None:
    dash_duo.start_server(demo_app, navigate=False)
    sign_in(dash_duo, username)
    dash_duo.wait_for_element("#home-kpis", timeout=15)
    dash_duo.wait_for_element("#home-trend .main-svg", timeout=15)
    bars = dash_duo.driver.find_elements(By.CSS_SELECTOR, "#home-trend .bars path")
    assert bars, "the trend chart has no bars"
    assert "Data as of batch" in dash_duo.find_element("#shell-batch-badge").text
    screenshot(dash_duo, f"home-{username}")
    assert dash_duo.get_logs() == []


@pytest.mark.browser
def test_changing_the_period_updates_the_url_and_the_figures(dash_duo, demo_app: dash.Dash) -> None:  # type: ignore[no-untyped-def]
    dash_duo.start_server(demo_app, navigate=False)
    sign_in(dash_duo, "exec")
    dash_duo.wait_for_element("#home-kpis", timeout=15)
    before = dash_duo.find_element("#home-net-sales").text
    dash_duo.select_dcc_dropdown('#\\{\\"name\\"\\:\\"period\\"\\,\\"type\\"\\:\\"view-param\\"\\}',
                                 value="Last 30 days")
    dash_duo.wait_for_contains_text("#filter-period-label", "–", timeout=10)
    # The page re-renders from the URL: an element read mid-render goes stale; read again.
    wait = WebDriverWait(dash_duo.driver, 10,
                         ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda driver: "period=last_30" in driver.current_url)
    wait.until(lambda _: dash_duo.find_element("#home-net-sales").text != before)
    assert dash_duo.get_logs() == []


@pytest.mark.browser
def test_a_rep_opens_a_customer_from_the_list(dash_duo, demo_app: dash.Dash) -> None:  # type: ignore[no-untyped-def]
    dash_duo.start_server(demo_app, navigate=False)
    sign_in(dash_duo, "rep", "/customers")
    dash_duo.wait_for_element("#customers-table .ag-row a", timeout=15)
    screenshot(dash_duo, "customers-rep")
    link = dash_duo.find_element("#customers-table .ag-row a")
    name = link.text
    link.click()
    dash_duo.wait_for_text_to_equal("#customer-name", name, timeout=15)
    dash_duo.wait_for_element("#customer-pnl .main-svg", timeout=15)
    screenshot(dash_duo, "customer-360-rep")
    assert dash_duo.get_logs() == []


@pytest.mark.browser
@pytest.mark.parametrize(("username", "path", "graph"), [
    ("manager", "/pipeline", "#pipeline-movement"),
    ("rep", "/pipeline", "#pipeline-by-stage"),
    ("rep", "/quotes", "#quotes-age"),
    ("manager", "/engagement", "#engagement-trend"),
])
def test_sales_pages_render_with_charts(dash_duo, demo_app: dash.Dash, username: str,  # type: ignore[no-untyped-def]
                                        path: str, graph: str) -> None:
    dash_duo.start_server(demo_app, navigate=False)
    sign_in(dash_duo, username, path)
    dash_duo.wait_for_element(f"{graph} .main-svg", timeout=20)
    screenshot(dash_duo, f"{path.strip('/')}-{username}")
    assert dash_duo.get_logs() == []


@pytest.mark.browser
def test_clicking_a_month_of_the_trend_lists_its_documents(dash_duo, demo_app: dash.Dash) -> None:  # type: ignore[no-untyped-def]
    dash_duo.start_server(demo_app, navigate=False)
    sign_in(dash_duo, "exec")
    dash_duo.wait_for_element("#home-trend .bars path", timeout=15)
    bars = dash_duo.driver.find_elements(By.CSS_SELECTOR, "#home-trend .bars path")
    tallest = max(bars, key=lambda bar: bar.size["height"])
    # Plotly's drag layer lies over the bars: click at the bar's place, not on the element.
    ActionChains(dash_duo.driver).move_to_element(tallest).click().perform()
    dash_duo.wait_for_element("#documents-table .ag-row", timeout=15)
    assert "/documents" in dash_duo.driver.current_url
    assert "kind=sales" in dash_duo.driver.current_url
    assert "Invoices and credit notes" in dash_duo.find_element("#documents-described").text
    screenshot(dash_duo, "documents-exec")
    assert dash_duo.get_logs() == []


@pytest.mark.browser
def test_a_movement_step_lists_its_opportunities(dash_duo, demo_app: dash.Dash) -> None:  # type: ignore[no-untyped-def]
    dash_duo.start_server(demo_app, navigate=False)
    sign_in(dash_duo, "manager", "/pipeline?period=ytd")
    dash_duo.wait_for_element("#pipeline-movement g.point path", timeout=15)
    screenshot(dash_duo, "pipeline-manager")
    bars = dash_duo.driver.find_elements(By.CSS_SELECTOR, "#pipeline-movement g.point path")
    step = max(bars[1:-1], key=lambda bar: bar.size["height"])  # not opening or closing
    ActionChains(dash_duo.driver).move_to_element(step).click().perform()
    dash_duo.wait_for_element("#documents-table .ag-row", timeout=15)
    assert "kind=movement" in dash_duo.driver.current_url
    assert "Pipeline movement" in dash_duo.find_element("#documents-described").text
    screenshot(dash_duo, "documents-movement-manager")
    assert dash_duo.get_logs() == []


@pytest.mark.browser
def test_a_point_of_the_engagement_trend_lists_its_customers(dash_duo, demo_app: dash.Dash) -> None:  # type: ignore[no-untyped-def]
    dash_duo.start_server(demo_app, navigate=False)
    sign_in(dash_duo, "manager", "/engagement")
    dash_duo.wait_for_element("#engagement-trend g.points path", timeout=15)
    before = dash_duo.find_element("#engagement-list-heading").text
    points = dash_duo.driver.find_elements(By.CSS_SELECTOR, "#engagement-trend g.points path")
    ActionChains(dash_duo.driver).move_to_element(points[len(points) // 2]).click().perform()
    WebDriverWait(dash_duo.driver, 15).until(lambda d: "status=" in d.current_url)

    def listed(driver) -> str | bool:  # type: ignore[no-untyped-def]
        try:
            text = driver.find_element(By.ID, "engagement-list-heading").text
        except StaleElementReferenceException:
            return False
        return text if text != before else False

    assert " customers on " in WebDriverWait(dash_duo.driver, 15).until(listed)
    # The list's rows come block by block from the server.
    dash_duo.wait_for_element("#engagement-at-risk .ag-row a", timeout=15)
    screenshot(dash_duo, "engagement-manager")
    assert dash_duo.get_logs() == []
