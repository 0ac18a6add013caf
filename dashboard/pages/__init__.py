"""The pages, one module each: ``PATH``, ``TITLE``, ``ROLES`` (who may open it), ``IN_NAV``,
``layout(ctx, **query)`` and optionally ``register_callbacks(app)``.

Pages are registered per app (not at import) so several apps can live in one process.
"""

from __future__ import annotations

import dash

from dashboard.pages import (
    ar_aging,
    cash_forecast,
    collections,
    customer,
    customers,
    documents,
    engagement,
    home,
    pipeline,
    pnl,
    quotes,
    statement,
    team,
)
from dashboard.result_cache import cached_layout
from dashboard.secure import secured_layout

PAGES = (home, pipeline, quotes, engagement, team, pnl, ar_aging, cash_forecast, customers,
         customer, documents, statement, collections)


def register_pages(app: dash.Dash) -> None:
    """Register every page's secured layout (its result cached, ``dashboard.result_cache``)
    and its callbacks on ``app``."""
    for order, page in enumerate(PAGES):
        options = getattr(page, "PAGE_OPTIONS", {"path": page.PATH})
        dash.register_page(page.__name__, title=f"{page.TITLE} · salesbi",
                           name=page.TITLE, order=order,
                           layout=secured_layout(page.ROLES)(cached_layout(page.__name__)(
                               page.layout)), **options)
        register = getattr(page, "register_callbacks", None)
        if register is not None:
            register(app)
