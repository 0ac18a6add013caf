"""The placeholder home page renders in Chromium without console errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Settings
from dashboard.app import create_app

SCREENSHOTS = Path("var/screenshots")


@pytest.mark.browser
def test_home_page_renders_without_console_errors(dash_duo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(Settings(var_dir=tmp_path))
    dash_duo.start_server(app)
    dash_duo.wait_for_text_to_equal("h1", "salesbi", timeout=10)
    assert "dashboards are coming" in dash_duo.find_element("body").text.lower()
    assert dash_duo.get_logs() == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    dash_duo.driver.save_screenshot(str(SCREENSHOTS / "home.png"))
