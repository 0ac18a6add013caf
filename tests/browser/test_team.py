"""The manager-only Team targets page in the browser: a manager sees the target chart and
the attainment heatmap; a rep who types its URL gets "No access" and no figures."""

from __future__ import annotations

import dash
import pytest
from selenium.webdriver.common.by import By

from tests.browser.test_home import screenshot, sign_in


@pytest.mark.browser
def test_a_manager_opens_team_targets(dash_duo, demo_app: dash.Dash) -> None:  # type: ignore[no-untyped-def]
    dash_duo.start_server(demo_app, navigate=False)
    sign_in(dash_duo, "manager", "/team")
    dash_duo.wait_for_element("#team-target-trend .bars path", timeout=20)
    dash_duo.wait_for_element("#team-heatmap .main-svg", timeout=20)
    dash_duo.wait_for_element("#team-leaderboard .ag-row", timeout=20)
    assert dash_duo.find_element("#team-attainment").text.endswith("%")
    screenshot(dash_duo, "team-manager")
    assert dash_duo.get_logs() == []


@pytest.mark.browser
def test_a_rep_cannot_open_team_targets_by_url(dash_duo, demo_app: dash.Dash) -> None:  # type: ignore[no-untyped-def]
    dash_duo.start_server(demo_app, navigate=False)
    sign_in(dash_duo, "rep", "/team")
    dash_duo.wait_for_element("#no-access", timeout=20)
    assert not dash_duo.driver.find_elements(By.CSS_SELECTOR, "#team-leaderboard, #team-kpis")
    nav = dash_duo.find_element("nav").text
    assert "Team" not in nav.split()
    screenshot(dash_duo, "team-rep-no-access")
    assert dash_duo.get_logs() == []
