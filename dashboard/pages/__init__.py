"""The pages, one module each: ``PATH``, ``TITLE``, ``ROLES`` (who may open it), ``IN_NAV``,
``layout(ctx, **query)`` and optionally ``register_callbacks(app)``.

Pages are registered per app (not at import) so several apps can live in one process.
"""

from __future__ import annotations

import dash

from dashboard.pages import home
from dashboard.secure import secured_layout

PAGES = (home,)


def register_pages(app: dash.Dash) -> None:
    """Register every page's secured layout and its callbacks on ``app``."""
    for order, page in enumerate(PAGES):
        dash.register_page(page.__name__, path=page.PATH, title=f"{page.TITLE} · salesbi",
                           name=page.TITLE, order=order,
                           layout=secured_layout(page.ROLES)(page.layout),
                           **getattr(page, "PAGE_OPTIONS", {}))
        register = getattr(page, "register_callbacks", None)
        if register is not None:
            register(app)
