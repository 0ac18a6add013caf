"""Invoices from shipped quantities, RMAs, credit notes, payments and allocations.

Grain: one invoice per shipped (non-replacement) shipment, one invoice line per shipment
line. Each customer pays according to its behaviour class (early, on time, late, chronic);
at most one credit note per invoice. Allocations never exceed the open amount of the
invoice at their date nor the unallocated amount of their source.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from core.demo.context import DemoContext
from core.demo.frames import dates, nullable, numbers, timestamps
from core.demo.master import CHRONIC, EARLY, FxTable
from core.demo.money import apply_rate, cost_cents, div_half_up, line_net, percent_of, prorate
from core.demo.orders import OrderBook, cost_at, unit_price_of_net
from core.demo.words import CARRIERS, RMA_REASONS

RMA_TYPES = ["refund_only", "return_and_refund", "return_without_refund", "repair",
             "replacement", "reject"]
RMA_TYPE_SHARE = [0.15, 0.35, 0.1, 0.15, 0.15, 0.1]
RMA_STATES = ["requested", "received", "inspected", "resolved"]
RMA_SHARE = 0.012
NONE, RETURN, SETTLEMENT, PRICE_ADJ, BAD_DEBT = range(5)
REASONS = {RETURN: "return", SETTLEMENT: "settlement_discount", PRICE_ADJ: "price_adjustment",
           BAD_DEBT: "bad_debt"}


@dataclass
class Ledger:
    invoices: pl.DataFrame
    invoice_lines: pl.DataFrame
    rmas: pl.DataFrame
    rma_lines: pl.DataFrame
    replacement_shipments: pl.DataFrame
    replacement_lines: pl.DataFrame
    credit_notes: pl.DataFrame
    credit_note_lines: pl.DataFrame
    payments: pl.DataFrame
    allocations: pl.DataFrame
    history: pl.DataFrame
    written_off_customers: np.ndarray


def build_ledger(ctx: DemoContext, customers: pl.DataFrame, products: pl.DataFrame,
                 book: OrderBook, fx: FxTable) -> Ledger:
    rng = ctx.rng("billing")
    invoices, lines = _invoices(ctx, rng, customers, products, book, fx)
    rmas = _rmas(ctx, rng, invoices, lines)
    s = _settle(ctx, rng, customers, invoices, lines, rmas, fx)
    rma_frame, rma_lines, rep_ship, rep_lines = _rma_frames(ctx, rng, rmas, invoices, lines,
                                                            book, products)
    return Ledger(invoices=s.invoices, invoice_lines=lines, rmas=rma_frame, rma_lines=rma_lines,
                  replacement_shipments=rep_ship, replacement_lines=rep_lines,
                  credit_notes=s.credit_notes, credit_note_lines=s.credit_note_lines,
                  payments=s.payments, allocations=s.allocations, history=s.history,
                  written_off_customers=s.written_off_customers)


def _invoices(ctx: DemoContext, rng: np.random.Generator, customers: pl.DataFrame,
              products: pl.DataFrame, book: OrderBook,
              fx: FxTable) -> tuple[pl.DataFrame, pl.DataFrame]:
    sh = book.shipments
    shipped = sh["_shipped"].to_numpy() & ~sh["is_replacement"].to_numpy()
    s_idx = np.flatnonzero(shipped)
    s_day = sh["_day"].to_numpy()[s_idx]
    order_of_ship = sh["order_id"].to_numpy()[s_idx] - 1
    s_idx = s_idx[np.lexsort((order_of_ship, s_day))]
    s_day = sh["_day"].to_numpy()[s_idx]
    n = s_idx.size
    inv_of_ship = np.full(sh.height, -1, dtype=np.int64)
    inv_of_ship[s_idx] = np.arange(n)
    o = sh["order_id"].to_numpy()[s_idx] - 1
    orders = book.orders
    cust = orders["_cust"].to_numpy()[o]
    currency = orders["_currency"].to_numpy()[o]
    rate = fx.rate_on(currency, s_day)
    terms = customers["terms_code"].to_numpy()[cust]
    net_days = np.array([ctx.terms[t][0] for t in terms])
    is_cash = np.array([ctx.terms[t][1] for t in terms])
    wave1 = sh["_wave"].to_numpy()[s_idx] == 1
    rank_in_day = np.arange(n) - np.searchsorted(s_day, s_day)

    # lines: every shipment line of an invoiced shipment
    sl = book.shipment_lines
    inv = inv_of_ship[sl["shipment_id"].to_numpy() - 1]
    keep = np.flatnonzero(inv >= 0)
    inv = inv[keep]
    ol = sl["order_line_id"].to_numpy()[keep] - 1
    line_no_src = sl["_line_no"].to_numpy()[keep]
    order_idx = np.lexsort((line_no_src, inv))
    inv, ol, keep = inv[order_idx], ol[order_idx], keep[order_idx]
    m = inv.size
    line_no = np.arange(m) - np.searchsorted(inv, inv) + 1
    olines = book.lines
    qty = sl["quantity"].to_numpy()[keep]
    price = olines["unit_price"].to_numpy()[ol]
    disc = olines["discount_pct"].to_numpy()[ol]
    product = olines["product_id"].to_numpy()[ol]
    tax_code = olines["tax_code"].to_numpy()[ol]
    tax_rate = pl.Series(tax_code).replace_strict(ctx.tax_rates, return_dtype=pl.Int64) \
        .to_numpy()
    unit_cost = sl["unit_cost"].to_numpy()[keep].astype(np.int64)
    line_amount = line_net(qty, price, disc)
    amount_sum = np.bincount(inv, weights=line_amount, minlength=n).astype(np.int64)
    discount = _discount_shares(book, o, wave1, amount_sum)
    freight = np.where(wave1, orders["freight_charged"].to_numpy()[o], 0)

    doc_disc = prorate(inv, line_amount, discount)
    freight_line = prorate(inv, line_amount, freight)
    net = line_amount - doc_disc
    tax = percent_of(net, tax_rate)
    lrate = rate[inv]
    base_net, base_tax = apply_rate(net, lrate), apply_rate(tax, lrate)
    base_freight = apply_rate(freight_line, lrate)
    names = products["name"].to_numpy()
    lines = pl.DataFrame({
        "id": np.arange(1, m + 1),
        "invoice_id": inv + 1,
        "line_no": line_no,
        "order_line_id": ol + 1,
        "milestone_id": pl.Series([None] * m, dtype=pl.Int64),
        "product_id": product,
        "description": names[product - 1],
        "quantity": qty,
        "unit_price": price,
        "discount_pct": disc,
        "line_amount": line_amount,
        "doc_discount_amount": doc_disc,
        "net_amount": net,
        "freight_amount": freight_line,
        "tax_code": tax_code,
        "tax_rate": tax_rate,
        "tax_amount": tax,
        "unit_cost": unit_cost,
        "cost_amount": cost_cents(qty, unit_cost),
        "base_net_amount": base_net,
        "base_tax_amount": base_tax,
        "base_freight_amount": base_freight,
    })

    def per_invoice(values: np.ndarray) -> np.ndarray:
        return np.bincount(inv, weights=values, minlength=n).astype(np.int64)

    net_sum, tax_sum = per_invoice(net), per_invoice(tax)
    base_total = per_invoice(base_net + base_tax + base_freight)
    ids = np.arange(1, n + 1)
    series = ctx.number_series("invoice")
    invoices = pl.DataFrame({
        "id": ids,
        "number": numbers(series.prefix, series.padding, ids),
        "customer_id": cust + 1,
        "order_id": o + 1,
        "status": "posted",
        "invoice_date": dates(s_day),
        "due_date": dates(s_day + net_days),
        "terms_code": terms,
        "currency": np.array(ctx.currencies)[currency],
        "fx_rate": rate,
        "is_cash_sale": is_cash,
        "discount_amount": discount,
        "freight_charged": freight,
        "net_amount": net_sum,
        "tax_amount": tax_sum,
        "total_amount": net_sum + tax_sum + freight,
        "base_total_amount": base_total,
        "posted_at": timestamps(s_day, 17 * 3600 + rank_in_day),
        "created_at": timestamps(s_day, 16 * 3600 + rng.integers(0, 3600, n)),
        "_cust": cust,
        "_day": s_day,
        "_due": s_day + net_days,
        "_rate": rate,
        "_currency": currency,
        "_cash": is_cash,
        "_first_line": np.searchsorted(inv, np.arange(n)),
        "_n_lines": np.bincount(inv, minlength=n),
    })
    return invoices, lines


def _discount_shares(book: OrderBook, order: np.ndarray, wave1: np.ndarray,
                     invoiced: np.ndarray) -> np.ndarray:
    """Each invoice's share of its order's document discount, as ``invoice_order`` does:
    the discount pro rata to the cumulative invoiced amount over the ordered amount (full
    quantities), less what the earlier invoice took; cancelled quantities forfeit theirs."""
    ol = book.lines
    n_orders = book.orders.height
    ordered = np.bincount(ol["order_id"].to_numpy() - 1, minlength=n_orders,
                          weights=line_net(ol["quantity"].to_numpy(),
                                           ol["unit_price"].to_numpy(),
                                           ol["discount_pct"].to_numpy())).astype(np.int64)
    total = book.orders["discount_amount"].to_numpy()
    first = np.zeros(n_orders, dtype=np.int64)
    first[order[wave1]] = invoiced[wave1]
    second = np.zeros(n_orders, dtype=np.int64)
    second[order[~wave1]] = invoiced[~wave1]
    safe = np.maximum(ordered, 1)
    d1 = np.minimum(div_half_up(total * first, safe), total)
    d2 = np.minimum(div_half_up(total * (first + second), safe), total) - d1
    share = np.where(wave1, d1[order], d2[order])
    return np.asarray(np.clip(share, 0, invoiced), dtype=np.int64)


@dataclass
class Settlement:
    invoices: pl.DataFrame
    credit_notes: pl.DataFrame
    credit_note_lines: pl.DataFrame
    payments: pl.DataFrame
    allocations: pl.DataFrame
    history: pl.DataFrame
    written_off_customers: np.ndarray


@dataclass
class RmaDraw:
    invoice: np.ndarray  # invoice index per RMA
    line: np.ndarray  # invoice line index
    rma_type: np.ndarray
    state: np.ndarray
    qty: np.ndarray
    days: np.ndarray  # (4, n): requested, received, inspected, resolved (−1 = none)
    restock: np.ndarray  # disposition restock (True) / scrap (False) where set
    has_disposition: np.ndarray


def _rmas(ctx: DemoContext, rng: np.random.Generator, invoices: pl.DataFrame,
          lines: pl.DataFrame) -> RmaDraw:
    end = ctx.calendar.end
    day = invoices["_day"].to_numpy()
    eligible = np.flatnonzero(day <= end - 20)
    n = min(eligible.size, max(30, int(invoices.height * RMA_SHARE)))
    chosen = rng.choice(eligible, n, replace=False)
    chosen = chosen[np.argsort(day[chosen] > end - 70, kind="stable")]  # old ones first
    first = invoices["_first_line"].to_numpy()[chosen]
    count = invoices["_n_lines"].to_numpy()[chosen]
    line = first + (rng.random(n) * count).astype(np.int64)
    rma_type = rng.choice(6, n, p=RMA_TYPE_SHARE)
    target = rng.choice(4, n, p=[0.09, 0.08, 0.08, 0.75])
    forced = min(n, 24)
    rma_type[:forced] = np.arange(forced) % 6
    target[:forced] = np.arange(forced) // 6 % 4
    d0 = np.minimum(day[chosen] + rng.integers(3, 46, n), end)
    steps = np.stack([np.zeros(n, np.int64), rng.integers(2, 11, n), rng.integers(1, 6, n),
                      rng.integers(1, 8, n)])
    days = d0 + np.cumsum(steps, axis=0)
    reached = (days <= end).sum(axis=0) - 1
    state = np.minimum(target, reached)
    # A refund-only RMA has no goods to receive: it is either requested or resolved.
    refund_only = rma_type == 0
    state = np.where(refund_only & (state > 0), np.where(reached >= 3, 3, 0), state)
    days = np.where(np.arange(4)[:, None] <= state, days, -1)
    days[1:3, refund_only] = -1
    qty_line = lines["quantity"].to_numpy()[line]
    qty = 1 + (rng.random(n) * np.minimum(qty_line, 3)).astype(np.int64)
    returns_goods = np.isin(rma_type, [1, 2, 4])
    has_disposition = returns_goods & (state >= 2)
    return RmaDraw(chosen, line, rma_type, state, qty, days, rng.random(n) < 0.6,
                   has_disposition)


def _settle(ctx: DemoContext, rng: np.random.Generator, customers: pl.DataFrame,
            invoices: pl.DataFrame, lines: pl.DataFrame, rmas: RmaDraw,
            fx: FxTable) -> Settlement:
    """Credit notes, payments and allocations, and the invoices' collection fields."""
    end = ctx.calendar.end
    n = invoices.height
    total = invoices["total_amount"].to_numpy()
    day, due = invoices["_day"].to_numpy(), invoices["_due"].to_numpy()
    cash = invoices["_cash"].to_numpy()
    cust = invoices["_cust"].to_numpy()
    pay_class = customers["_pay_class"].to_numpy()[cust]

    # when each invoice would be paid
    lo = np.array([-5, -2, 10, 60])[pay_class]
    hi = np.array([0, 3, 30, 150])[pay_class]
    late = lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64)
    late += np.where(rng.random(n) < 0.15, rng.integers(-3, 8, n), 0)
    disputed = ~cash & (rng.random(n) < 0.015)
    late += np.where(disputed, rng.integers(30, 121, n), 0)
    pay_day = np.where(cash, day, np.maximum(day, due + late))
    never_paid = ~cash & (pay_class == CHRONIC) & (rng.random(n) < 0.05)
    old_credit = ~cash & (due <= end - 200)
    if not (never_paid & old_credit).any() and old_credit.any():
        never_paid[np.flatnonzero(old_credit)[0]] = True  # every dataset has a write-off
    pay_day = np.where(never_paid, end + 10_000, pay_day)
    paid = pay_day <= end

    # one credit note at most per invoice
    kind = np.zeros(n, dtype=np.int8)
    cn_day = np.zeros(n, dtype=np.int64)
    cn_net = np.zeros(n, dtype=np.int64)
    cn_tax = np.zeros(n, dtype=np.int64)
    cn_line = np.full(n, -1, dtype=np.int64)
    standalone = np.zeros(n, dtype=bool)
    rma_of_invoice = np.full(n, -1, dtype=np.int64)
    rma_of_invoice[rmas.invoice] = np.arange(rmas.invoice.size)
    # RMA refunds: resolved refund_only / return_and_refund
    refund = (rmas.state == 3) & np.isin(rmas.rma_type, [0, 1])
    r_inv = rmas.invoice[refund]
    r_line = rmas.line[refund]
    q = rmas.qty[refund]
    unit4 = unit_price_of_net(lines["net_amount"].to_numpy()[r_line],
                              lines["quantity"].to_numpy()[r_line])
    r_net = div_half_up(q * unit4, 100)
    kind[r_inv] = RETURN
    cn_day[r_inv] = rmas.days[3][refund]
    cn_net[r_inv] = r_net
    cn_tax[r_inv] = percent_of(r_net, lines["tax_rate"].to_numpy()[r_line])
    cn_line[r_inv] = r_line
    free = (kind == NONE) & (rma_of_invoice < 0)
    # bad debt: long-unpaid invoices of chronic payers, written off
    bad = free & never_paid & old_credit & (rng.random(n) < 0.5)
    if not bad.any() and (free & never_paid & old_credit).any():
        bad[np.flatnonzero(free & never_paid & old_credit)[0]] = True
    kind[bad] = BAD_DEBT
    cn_day[bad] = due[bad] + 180 + (rng.random(bad.sum()) * (end - due[bad] - 179)).astype(int)
    cn_net[bad] = total[bad]
    # settlement discount 2 % for early payers who paid
    settle = free & ~bad & paid & ~cash & (pay_class == EARLY) & (rng.random(n) < 0.15)
    kind[settle] = SETTLEMENT
    cn_day[settle] = pay_day[settle]
    cn_net[settle] = percent_of(total[settle], np.full(settle.sum(), 200))
    # price adjustments on one line, a tenth of them standalone (an open credit)
    adj = free & ~bad & ~settle & (rng.random(n) < 0.008)
    adj &= day + 30 <= end
    a_idx = np.flatnonzero(adj)
    a_line = invoices["_first_line"].to_numpy()[a_idx]
    a_net = np.maximum(1, percent_of(lines["net_amount"].to_numpy()[a_line],
                                     rng.integers(500, 1001, a_idx.size)))
    kind[a_idx] = PRICE_ADJ
    cn_day[a_idx] = day[a_idx] + rng.integers(3, 31, a_idx.size)
    cn_net[a_idx] = a_net
    cn_tax[a_idx] = percent_of(a_net, lines["tax_rate"].to_numpy()[a_line])
    cn_line[a_idx] = a_line
    standalone[a_idx] = rng.random(a_idx.size) < 0.1
    has_cn = kind != NONE
    cn_total = cn_net + cn_tax
    applies = has_cn & ~standalone

    # payments: full, partial or over-paid; credit applied first when dated before
    outcome = rng.choice(3, n, p=[0.92, 0.04, 0.04])
    outcome = np.where(cash, 0, outcome)
    cn_first = applies & (~paid | (cn_day <= pay_day))
    a_cn1 = np.where(cn_first, np.minimum(cn_total, total), 0)
    remaining = total - a_cn1
    fraction = rng.integers(40, 91, n)
    extra = rng.integers(100, 5001, n)
    amount = np.where(outcome == 0, remaining,
                      np.where(outcome == 1, np.maximum(1, div_half_up(remaining * fraction, 100)),
                               remaining + extra))
    pays = paid & (remaining > 0)
    pay_alloc = np.minimum(amount, remaining)
    # a credit dated after the payment only covers what the payment left open
    a_cn2 = np.where(applies & ~cn_first,
                     np.minimum(cn_total, total - np.where(pays, pay_alloc, 0)), 0)
    cn_alloc = a_cn1 + a_cn2
    settled = a_cn1 + np.where(pays, pay_alloc, 0) + a_cn2
    open_end = total - settled

    # receipts and refunds of over-payments
    p_inv = np.flatnonzero(pays)
    refund_pay = pays & (outcome == 2) & (rng.random(n) < 0.4)
    refund_day = pay_day + rng.integers(10, 41, n)
    refund_pay &= refund_day <= end
    f_inv = np.flatnonzero(refund_pay)
    p_kind = np.concatenate([np.zeros(p_inv.size, np.int8), np.ones(f_inv.size, np.int8)])
    p_day = np.concatenate([pay_day[p_inv], refund_day[f_inv]])
    p_src = np.concatenate([p_inv, f_inv])
    p_amount = np.concatenate([amount[p_inv], extra[f_inv]])
    order = np.lexsort((p_kind, p_src, p_day))
    p_kind, p_day, p_src, p_amount = p_kind[order], p_day[order], p_src[order], p_amount[order]
    np_ = p_kind.size
    p_ids = np.arange(1, np_ + 1)
    receipt_id = np.zeros(n, dtype=np.int64)
    receipt_id[p_src[p_kind == 0]] = p_ids[p_kind == 0]
    refund_id = np.zeros(n, dtype=np.int64)
    refund_id[p_src[p_kind == 1]] = p_ids[p_kind == 1]
    p_cur = invoices["_currency"].to_numpy()[p_src]
    p_rate = fx.rate_on(p_cur, p_day)
    methods = np.array(["bank_transfer", "card", "cheque", "direct_debit", "cash"])
    method = methods[np.where(cash[p_src], 4, (customers["id"].to_numpy()[cust[p_src]] * 7) % 4)]
    method = np.where(p_kind == 1, "bank_transfer", method)
    series = ctx.number_series("payment")
    inv_numbers = invoices["number"].to_numpy()
    payments = pl.DataFrame({
        "id": p_ids,
        "number": numbers(series.prefix, series.padding, p_ids),
        "customer_id": cust[p_src] + 1,
        "kind": np.where(p_kind == 0, "receipt", "refund"),
        "method": method,
        "received_date": dates(p_day),
        "amount": p_amount,
        "currency": np.array(ctx.currencies)[p_cur],
        "fx_rate": p_rate,
        "base_amount": apply_rate(p_amount, p_rate),
        "order_id": pl.Series([None] * np_, dtype=pl.Int64),
        "reverses_payment_id": pl.Series([None] * np_, dtype=pl.Int64),
        "reference": np.where(p_kind == 0, np.char.add("Remittance ", inv_numbers[p_src]
                                                       .astype(str)), "Refund of overpayment"),
        "posted_at": timestamps(p_day, 11 * 3600 + np.arange(np_) % 3600),
    })

    # credit notes, numbered in posting order
    c_inv = np.flatnonzero(has_cn)
    c_order = np.lexsort((c_inv, cn_day[c_inv]))
    c_inv = c_inv[c_order]
    nc = c_inv.size
    c_ids = np.arange(1, nc + 1)
    cn_id = np.zeros(n, dtype=np.int64)
    cn_id[c_inv] = c_ids
    c_kind = kind[c_inv]
    c_day = cn_day[c_inv]
    c_alone = standalone[c_inv]
    inv_rate = invoices["_rate"].to_numpy()[c_inv]
    c_cur = invoices["_currency"].to_numpy()[c_inv]
    c_rate = np.where(c_alone, fx.rate_on(c_cur, c_day), inv_rate)
    line_idx = cn_line[c_inv]
    has_line = line_idx >= 0
    li = np.where(has_line, line_idx, 0)
    c_net, c_tax = cn_net[c_inv], cn_tax[c_inv]
    rma_idx = rma_of_invoice[c_inv]
    restock = (c_kind == RETURN) & (rmas.rma_type[rma_idx] == 1) & rmas.restock[rma_idx] & \
        rmas.has_disposition[rma_idx]
    r_qty = np.where(c_kind == RETURN, rmas.qty[rma_idx], 1)
    l_unit_cost = lines["unit_cost"].to_numpy()[li]
    unit_price = np.where(c_kind == RETURN,
                          unit_price_of_net(lines["net_amount"].to_numpy()[li],
                                            lines["quantity"].to_numpy()[li]), c_net * 100)
    tax_code = np.where(has_line, lines["tax_code"].to_numpy()[li], "ZERO")
    tax_rate = np.where(has_line, lines["tax_rate"].to_numpy()[li], ctx.tax_rates.get("ZERO", 0))
    description = np.where(
        c_kind == RETURN, np.char.add("Return: ", lines["description"].to_numpy()[li].astype(str)),
        np.where(c_kind == SETTLEMENT, "Early payment discount 2%",
                 np.where(c_kind == BAD_DEBT, "Bad debt write-off", "Price adjustment")))
    base_net, base_tax = apply_rate(c_net, c_rate), apply_rate(c_tax, c_rate)
    cn_series = ctx.number_series("credit_note")
    rank_in_day = np.arange(nc) - np.searchsorted(c_day, c_day)
    credit_notes = pl.DataFrame({
        "id": c_ids,
        "number": numbers(cn_series.prefix, cn_series.padding, c_ids),
        "customer_id": cust[c_inv] + 1,
        "invoice_id": pl.Series(c_inv + 1).set(pl.Series(c_alone), None),
        "rma_id": pl.Series(rma_idx + 1, dtype=pl.Int64).set(pl.Series(c_kind != RETURN), None),
        "reason": np.array([REASONS.get(k, "return") for k in range(5)])[c_kind],
        "status": "posted",
        "credit_date": dates(c_day),
        "currency": np.array(ctx.currencies)[c_cur],
        "fx_rate": c_rate,
        "net_amount": c_net,
        "tax_amount": c_tax,
        "total_amount": c_net + c_tax,
        "base_total_amount": base_net + base_tax,
        "posted_at": timestamps(c_day, 15 * 3600 + rank_in_day),
        "created_at": timestamps(c_day, 14 * 3600),
    })
    credit_note_lines = pl.DataFrame({
        "id": c_ids,
        "credit_note_id": c_ids,
        "line_no": np.ones(nc, dtype=np.int64),
        "invoice_line_id": pl.Series(li + 1).set(pl.Series(~has_line), None),
        "product_id": pl.Series(lines["product_id"].to_numpy()[li])
        .set(pl.Series(~has_line), None),
        "description": description,
        "quantity": r_qty,
        "unit_price": unit_price,
        "net_amount": c_net,
        "tax_code": tax_code,
        "tax_rate": tax_rate,
        "tax_amount": c_tax,
        "is_restock": restock,
        "unit_cost": np.where(c_kind == RETURN, l_unit_cost, 0),
        "cost_amount": np.where(restock, cost_cents(r_qty, l_unit_cost), 0),
        "base_net_amount": base_net,
        "base_tax_amount": base_tax,
    })

    # allocations
    cn_rows = np.flatnonzero(cn_alloc > 0)
    pay_rows = np.flatnonzero(pays & (pay_alloc > 0))
    alloc = pl.concat([
        pl.DataFrame({"source_payment_id": pl.Series([None] * cn_rows.size, dtype=pl.Int64),
                      "source_credit_note_id": cn_id[cn_rows],
                      "target_invoice_id": cn_rows + 1,
                      "target_payment_id": pl.Series([None] * cn_rows.size, dtype=pl.Int64),
                      "amount": cn_alloc[cn_rows], "_day": cn_day[cn_rows], "_k": 0}),
        pl.DataFrame({"source_payment_id": receipt_id[pay_rows],
                      "source_credit_note_id": pl.Series([None] * pay_rows.size, dtype=pl.Int64),
                      "target_invoice_id": pay_rows + 1,
                      "target_payment_id": pl.Series([None] * pay_rows.size, dtype=pl.Int64),
                      "amount": pay_alloc[pay_rows], "_day": pay_day[pay_rows], "_k": 1}),
        pl.DataFrame({"source_payment_id": receipt_id[f_inv],
                      "source_credit_note_id": pl.Series([None] * f_inv.size, dtype=pl.Int64),
                      "target_invoice_id": pl.Series([None] * f_inv.size, dtype=pl.Int64),
                      "target_payment_id": refund_id[f_inv],
                      "amount": extra[f_inv], "_day": refund_day[f_inv], "_k": 2}),
    ], how="vertical_relaxed").sort(["_day", "_k", "target_invoice_id", "target_payment_id"])
    alloc_day = alloc["_day"].to_numpy()
    allocations = alloc.with_columns(
        pl.Series("id", np.arange(1, alloc.height + 1)),
        dates(alloc_day).alias("allocation_date"),
        pl.lit(None, dtype=pl.Int64).alias("reversal_of_id"),
        timestamps(alloc_day, 12 * 3600).alias("created_at"),
    )

    # collection fields: open disputes, promises to pay on overdue open invoices
    is_open = open_end > 0
    flag_dispute = disputed & is_open
    promise = is_open & (due < end) & ~flag_dispute & (rng.random(n) < 0.25)
    promise_day = end + rng.integers(3, 22, n)
    invoices = invoices.with_columns(
        pl.Series("is_disputed", flag_dispute),
        dates(promise_day).set(pl.Series(~promise), None).alias("promise_to_pay_date"),
        pl.Series("_open", open_end),
    )
    d_idx, p_idx = np.flatnonzero(flag_dispute), np.flatnonzero(promise)
    history = pl.concat([
        pl.DataFrame({"occurred_at": timestamps(np.minimum(due[d_idx] + 10, end), 14 * 3600),
                      "entity": "invoice", "entity_id": d_idx + 1, "action": "update",
                      "field": "is_disputed", "old_value": "False", "new_value": "True"}),
        pl.DataFrame({"occurred_at": timestamps(end - rng.integers(0, 6, p_idx.size), 15 * 3600),
                      "entity": "invoice", "entity_id": p_idx + 1, "action": "update",
                      "field": "promise_to_pay_date",
                      "old_value": pl.Series([None] * p_idx.size, dtype=pl.Utf8),
                      "new_value": dates(promise_day[p_idx]).cast(pl.Utf8)}),
    ], how="vertical_relaxed")
    written_off = np.unique(cust[kind == BAD_DEBT]) + 1
    return Settlement(invoices, credit_notes, credit_note_lines, payments, allocations, history,
                      written_off)


def _rma_frames(ctx: DemoContext, rng: np.random.Generator, rmas: RmaDraw,
                invoices: pl.DataFrame, lines: pl.DataFrame, book: OrderBook,
                products: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame,
                                                 pl.DataFrame]:
    """RMA rows (ids = draw order re-sorted by request date) and replacement shipments."""
    end = ctx.calendar.end
    n = rmas.invoice.size
    req = rmas.days[0]
    resolved_day = rmas.days[3]
    # RMA ids follow the draw order; credit notes reference them by that index + 1
    ids = np.arange(1, n + 1)
    inv = rmas.invoice
    line = rmas.line
    replace = (rmas.rma_type == 4) & (rmas.state == 3)
    r_idx = np.flatnonzero(replace)
    r_idx = r_idx[np.argsort(resolved_day[r_idx], kind="stable")]
    first_id = book.shipments.height + 1
    ship_ids = np.arange(first_id, first_id + r_idx.size)
    replacement_id = np.zeros(n, dtype=np.int64)
    replacement_id[r_idx] = ship_ids
    state_day = rmas.days[np.clip(rmas.state, 0, 3), np.arange(n)]

    def optional_dates(row: np.ndarray) -> pl.Series:
        return dates(np.where(row < 0, 0, row)).set(pl.Series(row < 0), None)

    disposition = nullable(np.where(rmas.restock, "restock", "scrap"), ~rmas.has_disposition)
    series = ctx.number_series("rma")
    rma_frame = pl.DataFrame({
        "id": ids,
        "number": numbers(series.prefix, series.padding, ids),
        "customer_id": invoices["customer_id"].to_numpy()[inv],
        "invoice_id": inv + 1,
        "rma_type": np.array(RMA_TYPES)[rmas.rma_type],
        "state": np.array(RMA_STATES)[rmas.state],
        "disposition": disposition,
        "reason": np.array(RMA_REASONS)[rng.integers(0, len(RMA_REASONS), n)],
        "requested_date": dates(req),
        "received_date": optional_dates(rmas.days[1]),
        "inspected_date": optional_dates(rmas.days[2]),
        "resolved_date": optional_dates(resolved_day),
        "replacement_shipment_id": pl.Series(replacement_id, dtype=pl.Int64)
        .set(pl.Series(~replace), None),
        "created_at": timestamps(req, 10 * 3600),
        "updated_at": timestamps(state_day, 16 * 3600),
    })
    rma_lines = pl.DataFrame({
        "id": ids,
        "rma_id": ids,
        "invoice_line_id": line + 1,
        "product_id": lines["product_id"].to_numpy()[line],
        "quantity": rmas.qty,
        "unit_cost": lines["unit_cost"].to_numpy()[line],
    })
    k = r_idx.size
    rep_day = resolved_day[r_idx]
    order_id = invoices["order_id"].to_numpy()[inv[r_idx]]
    carrier_idx = rng.integers(0, len(CARRIERS), k)
    s_series = ctx.number_series("shipment")
    rep_ship = pl.DataFrame({
        "id": ship_ids,
        "number": numbers(s_series.prefix, s_series.padding, ship_ids),
        "order_id": order_id,
        "ship_to_id": book.orders["ship_to_id"].to_numpy()[order_id - 1],
        "status": "shipped",
        "is_replacement": np.ones(k, dtype=bool),
        "carrier": np.array(CARRIERS)[carrier_idx],
        "tracking_number": pl.Series(ship_ids * 7919 % 10**9 + 10**9).cast(pl.Utf8),
        "vehicle_number": pl.Series([None] * k, dtype=pl.Utf8),
        "created_date": dates(rep_day),
        "shipped_date": dates(rep_day),
        "freight_cost": rng.integers(800, 4000, k),
        "created_at": timestamps(rep_day, 9 * 3600),
        "updated_at": timestamps(rep_day, 15 * 3600),
    })
    product = lines["product_id"].to_numpy()[line[r_idx]]
    base_sl = book.shipment_lines.height
    rep_lines = pl.DataFrame({
        "id": np.arange(base_sl + 1, base_sl + k + 1),
        "shipment_id": ship_ids,
        "order_line_id": lines["order_line_id"].to_numpy()[line[r_idx]],
        "quantity": rmas.qty[r_idx],
        "unit_cost": cost_at(products["unit_cost"].to_numpy()[product - 1], rep_day, end),
    })
    return rma_frame, rma_lines, rep_ship, rep_lines

