"""A loaded batch is prepared in the background (``dashboard.batch_warmup``): the frames the
period presets' views keep per batch are built before those views ask, so rendering them
builds nothing more for a role that sees every customer, and a manager reads its rows of
them instead of computing its own. The P&L's financing cost is kept for its default view's
periods only."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import dash
import polars as pl
import pytest

from dashboard.metrics.mart import Mart
from dashboard.metrics.period import DEFAULT_PRESET, PRESETS
from tests.dashboard.dash_client import login, render_page


def _prepared(app: dash.Dash) -> Mart:
    """The app's batch once its prepare step has finished."""
    deadline = time.monotonic() + 60
    while any(t.name.startswith("mart-prepare-") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the batch was not prepared in a minute"
        time.sleep(0.05)
    mart = app.server.extensions["salesbi_mart_reader"].current()
    assert mart is not None
    return mart


def _kept(mart: Mart) -> dict[str, set[object]]:
    """What the batch keeps: each kind's keys and the derived frames' names."""
    return {**{kind: set(frames) for kind, frames in mart.keyed.items()},
            "derived": set(mart.derived)}


def test_the_preset_views_find_their_frames_built(demo_app: dash.Dash,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    missed: list[tuple[str, object]] = []
    kept_each = Mart.kept_each

    def spied(mart: Mart, kind: str, keys: Sequence[object]) -> list[pl.DataFrame] | None:
        found = kept_each(mart, kind, keys)
        if found is None:
            missed.append((kind, keys))
        return found

    monkeypatch.setattr(Mart, "kept_each", spied)
    finance, manager, executive = (demo_app.server.test_client() for _ in range(3))
    login(finance, "finance")
    login(manager, "manager")
    login(executive, "exec")
    assert render_page(finance, "/").status_code == 200  # loads the batch
    mart = _prepared(demo_app)
    missed.clear()  # the first request did not wait for the warm-up
    built = _kept(mart)
    assert {"ar_by_customer", "aging", "worklist", "engagement", "financing"} <= set(built)
    views = ((finance, ("/", "/ar-aging", "/collections", "/engagement", "/pnl",
                        "/cash-forecast", "/pipeline")),
             (manager, ("/", "/ar-aging", "/engagement", "/pnl")),
             (executive, ("/", "/pnl")))
    # The default view first: everything it needs is kept, the P&L's financing cost too.
    for client, paths in views:
        for path in paths:
            assert render_page(client, path).status_code == 200
    assert _kept(mart) == built  # nothing more built for finance or the executive
    assert missed == []  # nor computed by the manager on its own
    # Every other preset: the same, but for the P&L's financing cost, which is kept for
    # the latest periods asked for only (``financing.FINANCING_KEPT``).
    for preset in PRESETS:
        if preset in ("custom", DEFAULT_PRESET):
            continue
        for client, paths in views:
            for path in paths:
                assert render_page(client, path, f"?period={preset}").status_code == 200
    assert _kept(mart) | {"financing": set()} == built | {"financing": set()}
    assert [kind for kind, _ in missed if kind != "financing"] == []
