"""Browser tests run Debian's headless Chromium through dash[testing]; nothing is downloaded."""

from __future__ import annotations

from selenium.webdriver.chrome.options import Options

# The demo company and its app, shared with the dashboard tests.
from tests.dashboard.conftest import demo_app, demo_mart, writable  # noqa: F401

CHROMIUM = "/usr/bin/chromium"


def pytest_setup_options() -> Options:
    """Chrome options for dash_duo: Debian's binary, no sandbox (CI runs as root), no
    background network traffic (the machine has no network)."""
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1280,900"):
        options.add_argument(flag)
    return options
