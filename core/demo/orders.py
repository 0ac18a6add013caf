"""Sales orders, their lines and the shipments that deliver them.

Grain: one order per customer order event; a customer's orders follow its own rhythm
(regular in demand time, so seasonality and growth shape the calendar dates). Rep,
channel and region are fixed at confirmation: ship-to rep override, else the customer's
account manager at the order date; ship-to region, else the customer's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from core.demo.context import DemoContext
from core.demo.frames import dates, numbers, timestamps
from core.demo.master import SEGMENT_LINES, FxTable
from core.demo.money import div_half_up, line_net, percent_of
from core.demo.words import CARRIER_CODES, CARRIERS

INVOICE_LINES_PER_ORDER_LINE = 1.02  # split shipments minus cancellations and backlog
SPLIT_SHARE = 0.07
CANCEL_ORDER_SHARE = 0.03
CANCEL_LINE_SHARE = 0.03
AMEND_LINE_SHARE = 0.04


@dataclass
class OrderBook:
    orders: pl.DataFrame
    lines: pl.DataFrame
    shipments: pl.DataFrame
    shipment_lines: pl.DataFrame
    history: pl.DataFrame  # audit rows (see core.demo.history)


def _ranks(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Owner index and 0-based rank within owner for ``counts`` items per owner."""
    owner = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(owner.size) - starts[owner]


def cost_at(cost4: np.ndarray, day: np.ndarray, end: int) -> np.ndarray:
    """Unit cost on ``day``: today's cost deflated 2.5 % a year back in time (×10^4)."""
    return np.round(cost4 * (1 - 0.025 * (end - day) / 365.25)).astype(np.int64)


def build_orders(ctx: DemoContext, customers: pl.DataFrame, locations: pl.DataFrame,
                 products: pl.DataFrame, items: pl.DataFrame, deals: pl.DataFrame,
                 fx: FxTable) -> OrderBook:
    rng = ctx.rng("orders")
    cal = ctx.calendar
    c = customers
    seg = c["_seg"].to_numpy()
    weight = c["_weight"].to_numpy()
    a_from, a_to = c["_active_from"].to_numpy(), c["_active_to"].to_numpy()
    u_from, u_to = cal.position(a_from), cal.position(a_to + 1)
    mean_lines = 1 + SEGMENT_LINES[seg]
    demand = weight * (u_to - u_from)
    target_lines = ctx.lines / INVOICE_LINES_PER_ORDER_LINE
    scale = target_lines / max(float((demand * mean_lines).sum()), 1e-9)
    n_orders = rng.poisson(demand * scale)
    n_orders = np.where(weight > 0, np.maximum(n_orders, 1), 0)

    # order dates: regular rhythm in demand time with jitter, mapped to calendar days
    cust, k = _ranks(n_orders)
    n_c = n_orders[cust]
    u = u_from[cust] + (k + 0.5 + rng.uniform(-0.4, 0.4, cust.size)) / n_c * \
        (u_to[cust] - u_from[cust])
    day = np.clip(cal.day_at(u), a_from[cust], a_to[cust])
    order_idx = np.lexsort((k, cust, day))
    cust, day = cust[order_idx], day[order_idx]
    n = cust.size
    ids = np.arange(1, n + 1)

    # status: holds turn later orders into drafts (never confirmed), a few recent drafts,
    # some cancellations
    hold_day = c["_hold_day"].to_numpy()[cust]
    held = (hold_day > 0) & (day >= hold_day)  # the hold starts during its day
    draft = held | ((day >= cal.end - 7) & (rng.random(n) < 0.15))
    cancelled = ~draft & (rng.random(n) < CANCEL_ORDER_SHARE)
    cancel_day = np.minimum(day + rng.integers(1, 10, n), cal.end)
    status = np.where(draft, "draft", np.where(cancelled, "cancelled", "confirmed"))
    confirmed = ~draft

    # ship-to, rep, region
    loc_cust = locations["customer_id"].to_numpy() - 1
    loc_first = np.searchsorted(loc_cust, np.arange(c.height))
    n_ship = np.bincount(loc_cust, minlength=c.height) - 1
    ship_to = loc_first[cust] + 1 + (rng.random(n) * n_ship[cust]).astype(np.int64)
    ship_to_id = ship_to + 1
    override = locations["rep_override_id"].fill_null(0).to_numpy()[ship_to]
    reassign = c["_reassign_day"].to_numpy()[cust]
    manager = np.where((reassign > 0) & (day < reassign), c["_old_rep"].to_numpy()[cust],
                       c["account_manager_id"].to_numpy()[cust])
    rep = np.where(override > 0, override, manager)
    loc_region = locations["region_code"].fill_null("").to_numpy()[ship_to]
    region = np.where(loc_region == "", c["region_code"].to_numpy()[cust], loc_region)
    currency = c["_currency"].to_numpy()[cust]
    rate = fx.rate_on(currency, day)
    cash_terms = np.array([ctx.terms[t][1] for t in c["terms_code"].to_list()])[cust]

    # lines
    n_lines = 1 + rng.poisson(SEGMENT_LINES[seg[cust]])
    line_order, line_k = _ranks(n_lines)
    m = line_order.size
    lcust = cust[line_order]
    cat = products["_category"].to_numpy()
    n_products = products.height
    cat_start = np.searchsorted(cat, np.arange(cat.max() + 2))
    fav = c["_fav_category"].to_numpy()[lcust]
    in_fav = cat_start[fav] + (rng.random(m) * (cat_start[fav + 1] - cat_start[fav])).astype(int)
    popularity = 1 / (rng.permutation(n_products) + 5.0)
    anywhere = rng.choice(n_products, m, p=popularity / popularity.sum())
    product = np.where(rng.random(m) < 0.5, in_fav, anywhere)
    qty_p = np.array([0.08, 0.15, 0.3])[seg[lcust]]
    qty = np.minimum(rng.geometric(qty_p) * products["_qty_factor"].to_numpy()[product], 2000)
    lcur = currency[line_order]
    price_grid = items.sort(["_currency", "product_id"])["unit_price"].to_numpy() \
        .reshape(-1, n_products)
    price = price_grid[lcur, product]
    deal_key = deals["customer_id"].to_numpy() * (n_products + 1) + deals["product_id"].to_numpy()
    deal_order = np.argsort(deal_key)
    line_key = (lcust + 1) * (n_products + 1) + (product + 1)
    hit = np.zeros(m, dtype=bool)
    if deal_key.size:
        pos = np.clip(np.searchsorted(deal_key[deal_order], line_key), 0, deal_key.size - 1)
        hit = deal_key[deal_order][pos] == line_key
        price = np.where(hit, deals["unit_price"].to_numpy()[deal_order][pos], price)
    disc = np.array([0, 200, 500, 750, 1000, 1500])[
        rng.choice(6, m, p=[0.62, 0.12, 0.12, 0.05, 0.06, 0.03])]
    disc = np.where(hit, 0, disc)
    lconfirmed = confirmed[line_order]
    lstatus_ok = status[line_order] == "confirmed"
    cancelled_qty = np.where(lstatus_ok & (qty >= 2) & (rng.random(m) < CANCEL_LINE_SHARE),
                             1 + (rng.random(m) * (qty - 1)).astype(np.int64), 0)
    net = line_net(qty, price, disc)
    tax_code = products["tax_code"].to_numpy()[product]
    line_ids = np.arange(1, m + 1)

    # header amounts: document discount on some orders, freight charged on others
    lines_net = np.bincount(line_order, weights=net, minlength=n).astype(np.int64)
    disc_pct = np.where(rng.random(n) < 0.12, rng.integers(1, 4, n) * 100, 0)
    discount = percent_of(lines_net, disc_pct)
    freight = np.where(rng.random(n) < 0.35, rng.integers(10, 121, n) * 100, 0)
    confirm_sec = 9 * 3600 + rng.integers(0, 8 * 3600, n)
    series = ctx.number_series("order")
    orders = pl.DataFrame({
        "id": ids,
        "number": numbers(series.prefix, series.padding, ids),
        "customer_id": cust + 1,
        "quote_id": pl.Series([None] * n, dtype=pl.Int64),
        "ship_to_id": ship_to_id,
        "status": status,
        "order_date": dates(day),
        "promised_ship_date": dates(day + rng.integers(2, 15, n)),
        "confirmed_at": timestamps(day, confirm_sec).set(pl.Series(draft), None),
        "cancelled_date": dates(cancel_day).set(pl.Series(~cancelled), None),
        "currency": np.array(ctx.currencies)[currency],
        "fx_rate": rate,
        "is_cash_sale": cash_terms,
        "rep_id": pl.Series(rep, dtype=pl.Int64).set(pl.Series(draft), None),
        "channel_code": pl.Series(c["channel_code"].to_numpy()[cust]).set(pl.Series(draft),
                                                                           None),
        "region_code": pl.Series(region.astype(str)).set(pl.Series(draft), None),
        "discount_amount": discount,
        "freight_charged": freight,
        "net_amount": lines_net - discount,
        "created_at": timestamps(day, confirm_sec - 600),
        "updated_at": timestamps(np.where(cancelled, cancel_day, day), confirm_sec),
        "_cust": cust,
        "_day": day,
        "_currency": currency,
        "_cancel_day": cancel_day,
        "_confirm_sec": confirm_sec,
    })
    lines = pl.DataFrame({
        "id": line_ids,
        "order_id": line_order + 1,
        "line_no": line_k + 1,
        "product_id": product + 1,
        "quantity": qty,
        "cancelled_quantity": cancelled_qty,
        "unit_price": price,
        "discount_pct": disc,
        "tax_code": tax_code,
        "net_amount": net,
        "_confirmed": lconfirmed,
    })

    history = _order_history(rng, orders, lines, cancelled, cancel_day, day, line_order,
                             lstatus_ok, qty, cancelled_qty, confirm_sec)
    shipments, shipment_lines = _shipments(ctx, rng, orders, lines, products, status == "confirmed",
                                           day, line_order, qty - cancelled_qty, product)
    return OrderBook(orders, lines, shipments, shipment_lines, history)


def _order_history(rng: np.random.Generator, orders: pl.DataFrame, lines: pl.DataFrame,
                   cancelled: np.ndarray, cancel_day: np.ndarray, day: np.ndarray,
                   line_order: np.ndarray, live: np.ndarray, qty: np.ndarray,
                   cancelled_qty: np.ndarray, confirm_sec: np.ndarray) -> pl.DataFrame:
    """Audit rows: cancellations, quantity amendments and partial line cancellations."""
    ids = orders["id"].to_numpy()
    oc = np.flatnonzero(cancelled)
    cancel_at = timestamps(cancel_day[oc], 10 * 3600 + rng.integers(0, 7 * 3600, oc.size))
    frames = [
        pl.DataFrame({"occurred_at": cancel_at, "entity": "sales_order", "entity_id": ids[oc],
                      "action": "update", "field": "status", "old_value": "confirmed",
                      "new_value": "cancelled"}),
        pl.DataFrame({"occurred_at": cancel_at, "entity": "sales_order", "entity_id": ids[oc],
                      "action": "update", "field": "cancelled_date",
                      "old_value": pl.Series([None] * oc.size, dtype=pl.Utf8),
                      "new_value": dates(cancel_day[oc]).cast(pl.Utf8)}),
    ]
    m = line_order.size
    amended = np.flatnonzero(live & (rng.random(m) < AMEND_LINE_SHARE))
    delta = rng.choice(np.array([-3, -2, -1, 1, 2, 5, 10]), amended.size)
    old = np.maximum(qty[amended] + delta, 1)
    old = np.where(old == qty[amended], qty[amended] + 1, old)
    lo = line_order[amended]
    frames.append(pl.DataFrame({
        "occurred_at": timestamps(day[lo], confirm_sec[lo] + rng.integers(600, 4 * 3600,
                                                                           amended.size)),
        "entity": "sales_order_line", "entity_id": lines["id"].to_numpy()[amended],
        "action": "update", "field": "quantity",
        "old_value": pl.Series(old).cast(pl.Utf8) + ".0000",
        "new_value": pl.Series(qty[amended]).cast(pl.Utf8) + ".0000",
    }))
    pc = np.flatnonzero(cancelled_qty > 0)
    lo = line_order[pc]
    frames.append(pl.DataFrame({
        "occurred_at": timestamps(day[lo], confirm_sec[lo] + 5 * 3600),
        "entity": "sales_order_line", "entity_id": lines["id"].to_numpy()[pc],
        "action": "update", "field": "cancelled_quantity", "old_value": "0.0000",
        "new_value": pl.Series(cancelled_qty[pc]).cast(pl.Utf8) + ".0000",
    }))
    return pl.concat(frames, how="vertical_relaxed")


def _shipments(ctx: DemoContext, rng: np.random.Generator, orders: pl.DataFrame,
               lines: pl.DataFrame, products: pl.DataFrame, live: np.ndarray, day: np.ndarray,
               line_order: np.ndarray, to_ship: np.ndarray,
               product: np.ndarray) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Wave 1 ships every line (or its first part), wave 2 the rest of split lines.
    Shipments planned after the end are in progress (≤ 6 days ahead) or not created."""
    end = ctx.calendar.end
    n, m = orders.height, lines.height
    ship1 = day + 1 + np.minimum(rng.geometric(0.35, n) - 1, 20)
    ship2 = ship1 + rng.integers(5, 31, n)
    llive = live[line_order] & (to_ship > 0)
    split = llive & (to_ship >= 2) & (rng.random(m) < SPLIT_SHARE)
    part1 = np.where(split, np.maximum(1, (to_ship * rng.uniform(0.3, 0.8, m)).astype(np.int64)),
                     to_ship)
    part1 = np.minimum(part1, to_ship)
    part2 = to_ship - part1
    has_wave2 = np.bincount(line_order, weights=split & (part2 > 0), minlength=n) > 0

    # candidate shipments: (order, wave)
    s_order = np.concatenate([np.flatnonzero(live), np.flatnonzero(live & has_wave2)])
    s_wave = np.concatenate([np.ones(live.sum(), np.int8), np.full((live & has_wave2).sum(), 2,
                                                                   np.int8)])
    planned = np.where(s_wave == 1, ship1[s_order], ship2[s_order])
    exists = planned <= end + 6
    s_order, s_wave, planned = s_order[exists], s_wave[exists], planned[exists]
    shipped = planned <= end
    ahead = planned - end
    status = np.where(shipped, "shipped", np.where(ahead <= 2, "packed",
                                                   np.where(ahead <= 4, "picked",
                                                            "delivery_order")))
    created = np.minimum(np.maximum(day[s_order], planned - 2), end)
    idx = np.lexsort((s_wave, s_order, created))
    s_order, s_wave, planned, shipped, status, created = (
        a[idx] for a in (s_order, s_wave, planned, shipped, status, created))
    k = s_order.size
    s_ids = np.arange(1, k + 1)
    carrier_idx = rng.integers(0, len(CARRIERS), k)
    tracking = pl.Series(np.array(CARRIER_CODES)[carrier_idx]).cast(pl.Utf8) + \
        pl.Series(s_ids * 7919 % 10**9 + 10**9).cast(pl.Utf8)
    series = ctx.number_series("shipment")
    shipments = pl.DataFrame({
        "id": s_ids,
        "number": numbers(series.prefix, series.padding, s_ids),
        "order_id": s_order + 1,
        "ship_to_id": orders["ship_to_id"].to_numpy()[s_order],
        "status": status,
        "is_replacement": np.zeros(k, dtype=bool),
        "carrier": np.array(CARRIERS)[carrier_idx],
        "tracking_number": tracking.set(pl.Series(~shipped), None),
        "vehicle_number": pl.Series([None] * k, dtype=pl.Utf8),
        "created_date": dates(created),
        "shipped_date": dates(planned).set(pl.Series(~shipped), None),
        "freight_cost": np.where(shipped, rng.integers(800, 6000, k), 0),
        "created_at": timestamps(created, 8 * 3600 + rng.integers(0, 3600, k)),
        "updated_at": timestamps(np.minimum(planned, end), 16 * 3600),
        "_wave": s_wave,
        "_day": planned,
        "_shipped": shipped,
    })

    # shipment lines: join each line part to its (order, wave) shipment
    key = s_order.astype(np.int64) * 4 + s_wave
    key_order = np.argsort(key)
    frames = []
    cost4 = products["unit_cost"].to_numpy()
    for wave, part in ((1, part1), (2, part2)):
        sel = np.flatnonzero(llive & (part > 0))
        want = line_order[sel].astype(np.int64) * 4 + wave
        pos = np.clip(np.searchsorted(key[key_order], want), 0, max(k - 1, 0))
        found = key[key_order][pos] == want if k else np.zeros(sel.size, dtype=bool)
        sel, sh = sel[found], key_order[pos[found]]
        # cost fixed at the order's first shipment, so split lines cost the same per unit
        sh_day = ship1[line_order[sel]]
        frames.append(pl.DataFrame({
            "shipment_id": sh + 1,
            "order_line_id": sel + 1,
            "quantity": part[sel],
            "unit_cost": pl.Series(cost_at(cost4[product[sel]], sh_day, end))
            .set(pl.Series(~shipped[sh]), None),
            "_order": line_order[sel],
            "_line_no": lines["line_no"].to_numpy()[sel],
        }))
    shipment_lines = pl.concat(frames).sort(["shipment_id", "_line_no"])
    shipment_lines = shipment_lines.with_columns(
        pl.Series("id", np.arange(1, shipment_lines.height + 1)))
    return shipments, shipment_lines


def unit_price_of_net(net_cents: np.ndarray, qty: np.ndarray) -> np.ndarray:
    """Net unit price (×10^4) of a line: net / quantity rounded half-up to 4 decimals."""
    return div_half_up(net_cents * 100, qty)
