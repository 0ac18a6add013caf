"""Opportunities with their stage history, and quotes (with revisions and quote lines).

Grain: one opportunity per potential deal; one quote per offer version. Win rates are
25–35 % by segment. Quotes come from opportunities that reached the proposal stage, and
from some orders that were preceded by an accepted quote (``sales_order.quote_id``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from core.demo.context import DemoContext
from core.demo.frames import dates, nullable, numbers, timestamps
from core.demo.master import CATEGORIES
from core.demo.money import line_net, percent_of
from core.demo.orders import OrderBook
from core.demo.words import LOST_REASONS

STAGES = ["prospecting", "qualification", "proposal", "negotiation", "won", "lost"]
WON, LOST = 4, 5
WIN_RATE = np.array([0.25, 0.3, 0.35])
SEGMENT_DEAL = np.array([150_000, 40_000, 8_000])  # median amount, whole currency units
QUOTE_VALIDITY = 30
ORDER_QUOTE_SHARE = 0.01  # orders preceded by an accepted quote


@dataclass
class Pipeline:
    opportunities: pl.DataFrame
    quotes: pl.DataFrame
    quote_lines: pl.DataFrame
    order_quote_id: np.ndarray  # per order: quote id or 0
    history: pl.DataFrame


def cents_text(cents: np.ndarray) -> pl.Series:
    """Amounts in cents as decimal text with two decimals (the audit log's value format)."""
    c = pl.Series(np.asarray(cents, dtype=np.int64))
    return pl.select(pl.when(c < 0).then(pl.lit("-")).otherwise(pl.lit(""))
                     + (c.abs() // 100).cast(pl.Utf8) + "."
                     + (c.abs() % 100).cast(pl.Utf8).str.zfill(2)).to_series()


def _audit(occurred: pl.Series, entity: str, ids: np.ndarray, action: str,
           field: str | None = None, old: pl.Series | str | None = None,
           new: pl.Series | str | None = None) -> pl.DataFrame:
    n = len(ids)

    def text(v: pl.Series | str | None) -> pl.Series:
        if isinstance(v, pl.Series):
            return v.cast(pl.Utf8)
        return pl.Series([v] * n, dtype=pl.Utf8)

    return pl.DataFrame({"occurred_at": occurred, "entity": entity, "entity_id": ids,
                         "action": action, "field": text(field), "old_value": text(old),
                         "new_value": text(new)})


def build_pipeline(ctx: DemoContext, customers: pl.DataFrame, products: pl.DataFrame,
                   items: pl.DataFrame, book: OrderBook) -> Pipeline:
    rng = ctx.rng("pipeline")
    cal = ctx.calendar
    c = customers
    seg_all = c["_seg"].to_numpy()
    n_live = int((book.orders["status"] != "draft").sum())
    n = max(40, round(n_live * 0.06))
    p = np.array([6.0, 3.0, 1.0])[seg_all]
    cust = np.sort(rng.choice(c.height, n, p=p / p.sum()))
    seg = seg_all[cust]
    lo = np.maximum(cal.start, c["_created_day"].to_numpy()[cust])
    created = lo + (rng.random(n) * (cal.end - lo)).astype(np.int64)
    order = np.argsort(created, kind="stable")
    cust, seg, created = cust[order], seg[order], created[order]
    cycle = np.minimum(20 + rng.gamma(2.0, 30.0, n).astype(np.int64), 240)
    close = created + cycle
    closed = close <= cal.end
    won = closed & (rng.random(n) < WIN_RATE[seg])
    lost = closed & ~won
    s0 = np.where(rng.random(n) < 0.7, 0, 1)
    lost_at = np.maximum(s0, rng.choice(4, n, p=[0.2, 0.25, 0.3, 0.25]))
    elapsed = (cal.end - created) / cycle
    open_at = np.minimum(3, np.maximum(s0, (elapsed * 4).astype(np.int64)))
    s_last = np.where(won, 3, np.where(lost, lost_at, open_at))
    n_trans = (s_last - s0) + closed
    span = np.where(closed, close - created, cal.end - created)
    ids = np.arange(1, n + 1)

    # stage transitions
    t_opp = np.repeat(np.arange(n), n_trans)
    j = np.arange(t_opp.size) - np.repeat(np.cumsum(n_trans) - n_trans, n_trans)
    denom = np.where(closed[t_opp], n_trans[t_opp], n_trans[t_opp] + 1)
    t_day = created[t_opp] + ((j + 1) * span[t_opp]) // denom
    final = closed[t_opp] & (j == n_trans[t_opp] - 1)
    old_stage = np.where(final, s_last[t_opp], s0[t_opp] + j)
    new_stage = np.where(final, np.where(won[t_opp], WON, LOST), s0[t_opp] + j + 1)
    stage = np.where(won, WON, np.where(lost, LOST, s_last))

    amount_units = np.round(SEGMENT_DEAL[seg] * np.exp(rng.normal(0, 0.6, n)) / 100) * 100
    amount = (np.maximum(amount_units, 500) * 100).astype(np.int64)
    changed = rng.random(n) < 0.35
    old_amount = (np.round(amount / 100 * rng.uniform(0.7, 1.3, n) / 100) * 100 * 100) \
        .astype(np.int64)
    changed &= old_amount != amount
    change_day = created + (rng.uniform(0.1, 0.9, n) * span).astype(np.int64)
    expected = np.where(closed, close, created + cycle)
    pushed = (rng.random(n) < 0.3) & (span > 10)
    old_expected = np.maximum(created + 1, expected - rng.integers(7, 46, n))
    pushed &= old_expected != expected
    push_day = created + (rng.uniform(0.3, 0.9, n) * span).astype(np.int64)
    probability = np.where(~closed & (rng.random(n) < 0.4),
                           np.array([1000, 2500, 5000, 7500])[open_at] +
                           rng.integers(-1, 2, n) * 500, -1)
    reassign = c["_reassign_day"].to_numpy()[cust]
    rep = np.where((reassign > 0) & (created < reassign), c["_old_rep"].to_numpy()[cust],
                   c["account_manager_id"].to_numpy()[cust])
    category = np.array([x[0] for x in CATEGORIES])[c["_fav_category"].to_numpy()[cust]]
    last_change = np.where(closed, close, created)
    series = ctx.number_series("opportunity")
    currency = c["currency"].to_numpy()[cust]
    lost_reason = nullable(np.array(LOST_REASONS)[rng.integers(0, len(LOST_REASONS), n)], ~lost)
    opportunities = pl.DataFrame({
        "id": ids,
        "number": numbers(series.prefix, series.padding, ids),
        "customer_id": cust + 1,
        "rep_id": rep,
        "name": np.char.add(np.char.add(category.astype(str), " deal "), ids.astype(str)),
        "stage": np.array(STAGES)[stage],
        "state": np.where(won, "won", np.where(lost, "lost", "open")),
        "probability": pl.Series(probability).set(pl.Series(probability < 0), None),
        "amount": amount,
        "currency": currency,
        "expected_close_date": dates(expected),
        "closed_date": dates(close).set(pl.Series(~closed), None),
        "lost_reason": lost_reason,
        "created_date": dates(created),
        "created_at": timestamps(created, 9 * 3600 + rng.integers(0, 3600, n)),
        "updated_at": timestamps(last_change, 17 * 3600),
    })
    sec = 10 * 3600 + rng.integers(0, 6 * 3600, t_opp.size)
    # Closing moves stage, state and closed date in one change (as the service does).
    sec = np.where(np.isin(new_stage, [STAGES.index("won"), STAGES.index("lost")]),
                   16 * 3600, sec)
    c_idx = np.flatnonzero(closed)
    close_at = timestamps(close[c_idx], 16 * 3600)
    a_idx, e_idx = np.flatnonzero(changed), np.flatnonzero(pushed)
    history = [
        _audit(opportunities["created_at"], "opportunity", ids, "insert"),
        _audit(timestamps(t_day, sec), "opportunity", t_opp + 1, "update", "stage",
               pl.Series(np.array(STAGES)[old_stage]), pl.Series(np.array(STAGES)[new_stage])),
        _audit(close_at, "opportunity", c_idx + 1, "update", "state", "open",
               pl.Series(np.where(won[c_idx], "won", "lost"))),
        _audit(close_at, "opportunity", c_idx + 1, "update", "closed_date", None,
               dates(close[c_idx]).cast(pl.Utf8)),
        _audit(timestamps(change_day[a_idx], 11 * 3600), "opportunity", a_idx + 1, "update",
               "amount", cents_text(old_amount[a_idx]), cents_text(amount[a_idx])),
        _audit(timestamps(push_day[e_idx], 12 * 3600), "opportunity", e_idx + 1, "update",
               "expected_close_date", dates(old_expected[e_idx]).cast(pl.Utf8),
               dates(expected[e_idx]).cast(pl.Utf8)),
    ]

    # quotes of opportunities that reached the proposal stage
    q_opp = np.flatnonzero(s_last >= 2)
    j_p = 1 - s0[q_opp]
    q_day = created[q_opp] + ((j_p + 1) * span[q_opp]) // np.where(closed[q_opp],
                                                                    n_trans[q_opp],
                                                                    n_trans[q_opp] + 1)
    nq = q_opp.size
    valid = q_day + QUOTE_VALIDITY
    u = rng.random(nq)
    q_status = np.where(won[q_opp], "accepted",
                        np.where(lost[q_opp],
                                 np.where(u < 0.65, "lost", np.where(u < 0.9, "expired",
                                                                     "cancelled")),
                                 np.where(u < 0.1, "draft", "sent")))
    decided = np.where(np.isin(q_status, ["accepted", "lost", "cancelled"]), close[q_opp], -1)
    q_status = np.where((q_status == "sent") & (valid < cal.end), "expired", q_status)
    q_status = np.where((q_status == "expired") & (valid + 1 > cal.end), "lost", q_status)
    decided = np.where(q_status == "expired", valid + 1,
                       np.where(q_status == "lost", np.maximum(decided, q_day), decided))
    valid = np.where(np.isin(q_status, ["accepted", "lost", "cancelled"]),
                     np.maximum(valid, decided), valid)
    sent = np.where(q_status == "draft", -1, q_day)
    horizon = np.where(decided >= 0, decided, cal.end)
    revised = (q_status != "draft") & (rng.random(nq) < 0.25) & (horizon - q_day >= 6)
    rev_gap = 2 + (rng.random(nq) * np.minimum(9, (horizon - q_day) // 2 - 1)).astype(np.int64)

    # (a) opportunity quotes, (b) their superseded first versions, (c) order quotes
    o = book.orders
    o_live = np.flatnonzero((o["status"] == "confirmed").to_numpy() & ~o["is_cash_sale"].to_numpy())
    o_pick = o_live[rng.random(o_live.size) < ORDER_QUOTE_SHARE]
    o_day = o["_day"].to_numpy()[o_pick]
    oq_day = np.maximum(cal.start, o_day - rng.integers(2, 21, o_pick.size))
    r_idx = np.flatnonzero(revised)
    kind = np.concatenate([np.zeros(nq, np.int8), np.ones(r_idx.size, np.int8),
                           np.full(o_pick.size, 2, np.int8)])
    k_cust = np.concatenate([cust[q_opp], cust[q_opp[r_idx]], o["_cust"].to_numpy()[o_pick]])
    k_opp = np.concatenate([q_opp + 1, q_opp[r_idx] + 1, np.zeros(o_pick.size, np.int64)])
    order_rep = o["rep_id"].fill_null(0).to_numpy()[o_pick]
    k_rep = np.concatenate([rep[q_opp], rep[q_opp[r_idx]], order_rep])
    k_day = np.concatenate([q_day + np.where(revised, rev_gap, 0), q_day[r_idx], oq_day])
    k_sent = np.concatenate([np.where(sent >= 0, k_day[:nq], -1), q_day[r_idx], oq_day])
    k_status = np.concatenate([q_status, np.full(r_idx.size, "superseded"),
                               np.full(o_pick.size, "accepted")])
    k_decided = np.concatenate([decided, (q_day + rev_gap)[r_idx], o_day])
    k_valid = np.concatenate([np.maximum(valid, k_day[:nq] + QUOTE_VALIDITY),
                              q_day[r_idx] + QUOTE_VALIDITY,
                              np.maximum(oq_day + QUOTE_VALIDITY, o_day)])
    k_revno = np.concatenate([revised.astype(np.int64), np.zeros(r_idx.size + o_pick.size,
                                                                   np.int64)])
    k_of = np.full(nk_total := nq + r_idx.size + o_pick.size, -1)
    k_of[r_idx] = nq + np.arange(r_idx.size)  # revision 1 points at its superseded version
    k_amount = np.concatenate([amount[q_opp], amount[q_opp[r_idx]], np.zeros(o_pick.size)])
    k_order = np.concatenate([np.full(nq + r_idx.size, -1), o_pick])
    nk = nk_total
    # an expired quote was decided the day after its validity ended
    expired = k_status == "expired"
    k_decided = np.where(expired, k_valid + 1, k_decided)
    reopened = expired & (k_decided > cal.end)
    k_status = np.where(reopened, "sent", k_status)
    k_decided = np.where(reopened, -1, k_decided)
    q_sort = np.lexsort((np.arange(nk), k_revno, k_day))
    q_id = np.empty(nk, dtype=np.int64)
    q_id[q_sort] = np.arange(1, nk + 1)
    order_quote_id = np.zeros(o.height, dtype=np.int64)
    order_quote_id[o_pick] = q_id[nq + r_idx.size:]

    quote_lines = _quote_lines(ctx, rng, q_id, kind, k_cust, k_amount, k_order, customers,
                               products, items, book)
    per_quote = quote_lines.group_by("quote_id").agg(
        pl.col("net_amount").sum().alias("net_amount"), pl.col("_tax").sum().alias("tax_amount"))
    lost_reason_q = nullable(np.array(LOST_REASONS)[rng.integers(0, len(LOST_REASONS), nk)],
                             k_status != "lost")
    series = ctx.number_series("quote")
    quotes = pl.DataFrame({
        "id": q_id,
        "customer_id": k_cust + 1,
        "opportunity_id": pl.Series(k_opp).set(pl.Series(k_opp == 0), None),
        "rep_id": k_rep,
        "status": k_status,
        "currency": c["currency"].to_numpy()[k_cust],
        "quote_date": dates(k_day),
        "valid_until": dates(k_valid),
        "sent_date": dates(np.maximum(k_sent, 0)).set(pl.Series(k_sent < 0), None),
        "decided_date": dates(np.maximum(k_decided, 0)).set(pl.Series(k_decided < 0), None),
        "revision_of_id": pl.Series(np.where(k_of >= 0, q_id[np.maximum(k_of, 0)], 0))
        .set(pl.Series(k_of < 0), None),
        "revision_no": k_revno,
        "lost_reason": lost_reason_q,
        "created_at": timestamps(k_day, 10 * 3600),
        "updated_at": timestamps(np.where(k_decided >= 0, k_decided, k_day), 15 * 3600),
        "_sent": k_sent,
        "_decided": k_decided,
    }).join(per_quote, left_on="id", right_on="quote_id", how="left").sort("id")
    quotes = quotes.with_columns(
        numbers(series.prefix, series.padding, quotes["id"].to_numpy()).alias("number"),
        (pl.col("net_amount") + pl.col("tax_amount")).alias("total_amount"))

    qs = quotes
    sent_rows = qs.filter(pl.col("_sent") >= 0)
    decided_rows = qs.filter(pl.col("_decided") >= 0)
    history += [
        _audit(qs["created_at"], "quote", qs["id"].to_numpy(), "insert"),
        _audit(timestamps(sent_rows["_sent"].to_numpy(), 10 * 3600 + 1800), "quote",
               sent_rows["id"].to_numpy(), "update", "status", "draft", "sent"),
        _audit(timestamps(decided_rows["_decided"].to_numpy(), 15 * 3600), "quote",
               decided_rows["id"].to_numpy(), "update", "status", "sent",
               decided_rows["status"]),
    ]
    return Pipeline(opportunities, quotes, quote_lines, order_quote_id,
                    pl.concat(history, how="vertical_relaxed"))


def _quote_lines(ctx: DemoContext, rng: np.random.Generator, q_id: np.ndarray,
                 kind: np.ndarray, k_cust: np.ndarray, k_amount: np.ndarray,
                 k_order: np.ndarray, customers: pl.DataFrame, products: pl.DataFrame,
                 items: pl.DataFrame, book: OrderBook) -> pl.DataFrame:
    """Opportunity quotes: 1–4 lines sized to the deal amount; order quotes copy the
    order's lines."""
    n_products = products.height
    tax_codes = products["tax_code"].to_numpy()
    # opportunity quotes (kinds 0 and 1)
    opp_q = np.flatnonzero(kind < 2)
    per = 1 + rng.integers(0, 4, opp_q.size)
    owner = np.repeat(opp_q, per)
    line_no = np.arange(owner.size) - np.repeat(np.cumsum(per) - per, per) + 1
    product = rng.integers(0, n_products, owner.size)
    currency = customers["_currency"].to_numpy()[k_cust[owner]]
    price_grid = items.sort(["_currency", "product_id"])["unit_price"].to_numpy() \
        .reshape(-1, n_products)
    price = price_grid[currency, product]
    share = k_amount[owner] / np.repeat(per, per)
    qty = np.clip(np.round(share / np.maximum(price, 1)), 1, 5000).astype(np.int64)
    disc = np.where(kind[owner] == 1, 0, rng.choice([0, 500, 1000], owner.size))
    frames = [pl.DataFrame({"quote_id": q_id[owner], "line_no": line_no,
                            "product_id": product + 1, "quantity": qty, "unit_price": price,
                            "discount_pct": disc, "tax_code": tax_codes[product]})]
    # order quotes: the order's lines
    order_q = np.flatnonzero(kind == 2)
    quote_of_order = pl.DataFrame({"order_id": k_order[order_q] + 1, "quote_id": q_id[order_q]})
    frames.append(book.lines.join(quote_of_order, on="order_id").select(
        "quote_id", "line_no", "product_id", "quantity", "unit_price", "discount_pct",
        "tax_code"))
    lines = pl.concat(frames, how="vertical_relaxed").sort(["quote_id", "line_no"])
    net = line_net(lines["quantity"].to_numpy(), lines["unit_price"].to_numpy(),
                   lines["discount_pct"].to_numpy())
    rate = lines.select(pl.col("tax_code").replace_strict(ctx.tax_rates, return_dtype=pl.Int64)) \
        .to_series().to_numpy()
    return lines.with_columns(
        pl.Series("id", np.arange(1, lines.height + 1)),
        pl.Series("net_amount", net),
        pl.Series("_tax", percent_of(net, rate)),
    )
