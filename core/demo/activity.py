"""Customer engagement and targets: the contact log (interactions with next contact
dates and promises to pay) and monthly net-sales targets per rep."""

from __future__ import annotations

import numpy as np
import polars as pl

from core.demo.calendar import SEASON, Calendar
from core.demo.context import DemoContext
from core.demo.frames import dates, timestamps
from core.demo.words import INTERACTION_NOTES

KINDS = ["call", "email", "meeting", "visit", "note"]


def build_interactions(ctx: DemoContext, customers: pl.DataFrame, contacts: pl.DataFrame,
                       orders_per_customer: np.ndarray, invoices: pl.DataFrame) -> pl.DataFrame:
    """2–25 interactions per customer over its life; the latest sets the next contact date.
    Open overdue invoices with a promise to pay get a ``promise_to_pay`` entry."""
    rng = ctx.rng("interactions")
    cal = ctx.calendar
    n = customers.height
    count = np.clip(2 + orders_per_customer // 6, 2, 25)
    cust = np.repeat(np.arange(n), count)
    lo = np.maximum(cal.start, customers["_created_day"].to_numpy()[cust])
    day = lo + (rng.random(cust.size) * (cal.end + 1 - lo)).astype(np.int64)
    order = np.lexsort((day, cust))
    cust, day = cust[order], day[order]
    last = np.r_[cust[1:] != cust[:-1], True]
    next_contact = np.where(last, day + rng.integers(7, 61, cust.size),
                            np.where(rng.random(cust.size) < 0.3, day + 14, -1))
    kind = np.array(KINDS)[rng.choice(5, cust.size, p=[0.35, 0.35, 0.15, 0.1, 0.05])]
    first_contact = np.searchsorted(contacts["customer_id"].to_numpy(), np.arange(1, n + 1)) + 1
    promised = invoices.filter(pl.col("promise_to_pay_date").is_not_null())
    p_cust = promised["_cust"].to_numpy()
    p_day = np.full(p_cust.size, cal.end - 2)
    frame = pl.DataFrame({
        "customer_id": np.concatenate([cust, p_cust]) + 1,
        "contact_id": first_contact[np.concatenate([cust, p_cust])],
        "user_id": pl.Series([None] * (cust.size + p_cust.size), dtype=pl.Int64),
        "kind": np.concatenate([kind, np.full(p_cust.size, "promise_to_pay")]),
        "occurred_on": dates(np.concatenate([day, p_day])),
        "next_contact_date": dates(np.maximum(np.concatenate([next_contact, p_day]), 0))
        .set(pl.Series(np.concatenate([next_contact < 0, np.ones(p_cust.size, bool)])), None),
        "promise_to_pay_date": pl.concat([
            pl.Series([None] * cust.size, dtype=pl.Date),
            promised["promise_to_pay_date"]]),
        "created_at": timestamps(np.concatenate([day, p_day]), 12 * 3600),
    }).with_columns(pl.col("kind").replace_strict(INTERACTION_NOTES, return_dtype=pl.Utf8)
                    .alias("notes"))
    frame = frame.sort(["occurred_on", "customer_id"], maintain_order=True)
    return frame.with_columns(pl.Series("id", np.arange(1, frame.height + 1)))


def build_targets(ctx: DemoContext, reps: pl.DataFrame, invoice_lines: pl.DataFrame,
                  invoices: pl.DataFrame, orders: pl.DataFrame) -> pl.DataFrame:
    """Per rep and month of the period: the rep's average monthly net sales, shaped by
    season and growth, plus 8 % stretch, rounded to hundreds (base currency)."""
    cal = ctx.calendar
    months = np.unique(Calendar.month_start(np.arange(cal.start, cal.end + 1)))
    per_invoice = invoice_lines.group_by("invoice_id").agg(pl.col("base_net_amount").sum())
    rep_of_invoice = invoices.select(pl.col("id").alias("invoice_id"), "order_id").join(
        orders.select(pl.col("id").alias("order_id"), "rep_id"), on="order_id")
    by_rep = per_invoice.join(rep_of_invoice, on="invoice_id").group_by("rep_id").agg(
        pl.col("base_net_amount").sum().alias("total"))
    sellers = reps.filter(pl.col("_level") > 0).select(pl.col("id").alias("rep_id"))
    by_rep = sellers.join(by_rep, on="rep_id", how="left").fill_null(0).sort("rep_id")
    month_idx = months.astype("datetime64[D]").astype("datetime64[M]").astype(int) % 12
    shape = SEASON[month_idx] * (1 + 0.22 * (months - cal.start) / 365.25)
    shape = shape / shape.mean()
    monthly = by_rep["total"].to_numpy() / len(months)
    amount = (np.round(np.outer(monthly, shape) * 1.08 / 10_000) * 10_000).astype(np.int64)
    rep_ids = np.repeat(by_rep["rep_id"].to_numpy(), len(months))
    return pl.DataFrame({
        "id": np.arange(1, rep_ids.size + 1),
        "rep_id": rep_ids,
        "month": dates(np.tile(months, by_rep.height)),
        "amount": amount.ravel(),
    })
