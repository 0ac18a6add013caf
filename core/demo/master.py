"""Master data: sales reps, products and prices, exchange rates, customers with their
locations and contacts. Each builder returns frames (see ``core.demo.frames``); columns
starting with ``_`` are generation attributes the loader ignores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from core.demo.context import DemoContext
from core.demo.frames import dates, nullable, numbers, timestamps
from core.demo.money import RATE_UNIT
from core.demo.words import (
    CITIES,
    COMPANY_CORES,
    COMPANY_PREFIXES,
    COMPANY_SUFFIXES,
    FIRST_NAMES,
    HOLD_REASONS,
    LAST_NAMES,
    PRODUCT_ADJECTIVES,
    STREETS,
)

REGIONS = ["NORTH", "SOUTH", "EAST", "WEST", "CENTRAL"]
CHANNELS = ["DIRECT", "DISTRIBUTOR", "ECOMMERCE", "PARTNER"]
SEGMENTS = ["ENTERPRISE", "MIDMARKET", "SMB"]
SEGMENT_SHARE = [0.1, 0.3, 0.6]
SEGMENT_ACTIVITY = np.array([4.0, 2.0, 1.0])  # relative order frequency
SEGMENT_LINES = np.array([6.0, 3.0, 1.5])  # mean lines per order − 1 (Poisson)
TERMS_SHARE = {"NET15": 0.15, "NET30": 0.55, "NET45": 0.13, "NET60": 0.1, "CASH": 0.07}
# payment behaviour classes: early, on time, late, chronic
PAY_CLASS_SHARE = [0.2, 0.45, 0.28, 0.07]
EARLY, ON_TIME, LATE, CHRONIC = range(4)
HOLD_POLICIES = ["allow_nothing", "pending_only", "cash_only"]
# category, target margin, median list price, quantity factor, product lines
CATEGORIES = [
    ("Fasteners", 0.46, 4.0, 8, ["Bolts", "Anchors", "Rivets"]),
    ("Power Tools", 0.27, 240.0, 1, ["Drills", "Saws", "Grinders"]),
    ("Safety Equipment", 0.40, 35.0, 4, ["Gloves", "Eyewear", "Harnesses"]),
    ("Electrical", 0.33, 60.0, 3, ["Cables", "Switchgear", "Lighting"]),
    ("Hydraulics", 0.24, 420.0, 1, ["Pumps", "Valves", "Cylinders"]),
    ("Lab Instruments", 0.21, 1400.0, 1, ["Meters", "Scales", "Analysers"]),
    ("Packaging", 0.36, 12.0, 10, ["Boxes", "Film", "Tape"]),
    ("Spares & Service", 0.55, 90.0, 2, ["Kits", "Parts", "Service Plans"]),
]
N_REPS = 30
N_MANAGERS = 5


@dataclass(frozen=True)
class FxTable:
    """Daily-ish rates per currency (index as in ``DemoContext.currencies``), ×10^6."""

    days: np.ndarray
    rates: np.ndarray  # shape (currencies, days); row 0 (base) is 10^6

    def rate_on(self, currency: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Latest rate dated on or before ``day`` (base currency: exactly 1)."""
        idx = np.clip(np.searchsorted(self.days, day, side="right") - 1, 0, len(self.days) - 1)
        return np.asarray(self.rates[currency, idx], dtype=np.int64)


def person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    first = np.array(FIRST_NAMES)[rng.integers(0, len(FIRST_NAMES), n)]
    last = np.array(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), n)]
    return np.char.add(np.char.add(first, " "), last)


def build_reps(ctx: DemoContext) -> pl.DataFrame:
    """One head of sales, five regional managers, 24 reps spread over the regions."""
    rng = ctx.rng("reps")
    ids = np.arange(1, N_REPS + 1)
    manager = np.zeros(N_REPS, dtype=np.int64)
    manager[1:1 + N_MANAGERS] = 1
    region_idx = np.zeros(N_REPS, dtype=np.int64)
    region_idx[1:1 + N_MANAGERS] = np.arange(N_MANAGERS)
    rest = np.arange(N_REPS - 1 - N_MANAGERS)
    region_idx[1 + N_MANAGERS:] = rest % N_MANAGERS
    manager[1 + N_MANAGERS:] = 2 + rest % N_MANAGERS
    names = person_names(rng, N_REPS)
    region = np.array(REGIONS)[region_idx]
    return pl.DataFrame({
        "id": ids,
        "code": [f"R{i:03d}" for i in ids],
        "name": names,
        "email": [f"{n.lower().replace(' ', '.')}.{i}@example.com" for i, n in zip(ids, names,
                                                                                  strict=True)],
        "manager_id": nullable(manager, manager == 0),
        "region_code": nullable(region, ids == 1),
        "is_active": np.ones(N_REPS, dtype=bool),
        "_region": region_idx,
        "_level": np.where(ids == 1, 0, np.where(ids <= 1 + N_MANAGERS, 1, 2)),
    })


def build_products(ctx: DemoContext) -> pl.DataFrame:
    """200–500 products over eight categories with different margins and price levels."""
    rng = ctx.rng("products")
    n = int(np.clip(ctx.customers // 100, 200, 500))
    cat = np.sort(rng.integers(0, len(CATEGORIES), n))
    margin = np.array([c[1] for c in CATEGORIES])[cat] + rng.normal(0, 0.04, n)
    median = np.array([c[2] for c in CATEGORIES])[cat]
    list_cents = np.maximum(50, np.round(median * np.exp(rng.normal(0, 0.6, n)) * 100))
    list4 = list_cents.astype(np.int64) * 100
    cost4 = np.round(list4 * (1 - np.clip(margin, 0.08, 0.8))).astype(np.int64)
    floor4 = (np.round(list_cents * 0.82) * 100).astype(np.int64)
    line_idx = rng.integers(0, 3, n)
    product_line = [CATEGORIES[c][4][i] for c, i in zip(cat, line_idx, strict=True)]
    adjective = np.array(PRODUCT_ADJECTIVES)[rng.integers(0, len(PRODUCT_ADJECTIVES), n)]
    ids = np.arange(1, n + 1)
    tax = np.where(rng.random(n) < 0.85, "STD", np.where(rng.random(n) < 0.6, "RED", "ZERO"))
    return pl.DataFrame({
        "id": ids,
        "sku": [f"SKU-{i:05d}" for i in ids],
        "name": [f"{pl_} {a} {100 + i}" for pl_, a, i in zip(product_line, adjective, ids,
                                                            strict=True)],
        "category": [CATEGORIES[c][0] for c in cat],
        "product_line": product_line,
        "unit_cost": cost4,
        "list_price": list4,
        "min_price": floor4,
        "tax_code": tax,
        "is_active": rng.random(n) > 0.02,
        "_category": cat,
        "_qty_factor": np.array([c[3] for c in CATEGORIES])[cat],
    })


def build_fx(ctx: DemoContext) -> tuple[pl.DataFrame, FxTable]:
    """Business-day rates of the foreign currencies from 30 days before the period on."""
    rng = ctx.rng("fx")
    cal = ctx.calendar
    days = np.arange(cal.start - 30, cal.end + 1)
    days = days[((days + 3) % 7) < 5]
    rates = np.full((len(ctx.currencies), len(days)), RATE_UNIT, dtype=np.int64)
    level = {"EUR": 1.08, "GBP": 1.27, "USD": 1.0}
    base_level = level.get(ctx.base_currency, 1.0)
    frames = []
    for i, cur in enumerate(ctx.currencies[1:], start=1):
        walk = np.exp(np.cumsum(rng.normal(0, 0.004, len(days))))
        rates[i] = np.round(level.get(cur, 1.0) / base_level * walk * RATE_UNIT)
        frames.append(pl.DataFrame({"currency": cur, "rate_date": dates(days),
                                    "rate": rates[i]}))
    return pl.concat(frames), FxTable(days, rates)


def build_price_lists(ctx: DemoContext, products: pl.DataFrame,
                      fx: FxTable) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One price list per currency (the base list = product list prices; foreign lists
    converted once at the start of the period), each item with its floor."""
    start = ctx.calendar.start
    lists = pl.DataFrame({
        "id": np.arange(1, len(ctx.currencies) + 1),
        "name": [f"Standard {c}" for c in ctx.currencies],
        "currency": ctx.currencies,
        "valid_from": dates(np.full(len(ctx.currencies), start - 365)),
        "valid_to": pl.Series([None] * len(ctx.currencies), dtype=pl.Date),
    })
    n = products.height
    list4 = products["list_price"].to_numpy()
    floor4 = products["min_price"].to_numpy()
    items = []
    for i in range(len(ctx.currencies)):
        rate = fx.rate_on(np.array([i]), np.array([start]))[0]
        price = (np.round(list4 / 100 * RATE_UNIT / rate) * 100).astype(np.int64)
        floor = (np.round(floor4 / 100 * RATE_UNIT / rate) * 100).astype(np.int64)
        items.append(pl.DataFrame({
            "id": np.arange(i * n + 1, (i + 1) * n + 1),
            "price_list_id": np.full(n, i + 1),
            "product_id": products["id"].to_numpy(),
            "unit_price": price,
            "min_price": floor,
            "_currency": np.full(n, i),
        }))
    return lists, pl.concat(items)


def build_customers(ctx: DemoContext, reps: pl.DataFrame) -> pl.DataFrame:
    """Customers with segment, channel, region, terms, currency, credit limit, account
    manager, activity window, payment behaviour, holds and mid-history reassignments."""
    rng = ctx.rng("customers")
    cal = ctx.calendar
    n = ctx.customers
    ids = np.arange(1, n + 1)
    seg = rng.choice(3, n, p=SEGMENT_SHARE)
    channel_p = np.array([[0.7, 0.2, 0.02, 0.08], [0.4, 0.3, 0.1, 0.2], [0.15, 0.25, 0.45, 0.15]])
    u = rng.random(n)
    channel = (u[:, None] > np.cumsum(channel_p[seg], axis=1)).sum(axis=1)
    region = rng.choice(5, n, p=[0.22, 0.2, 0.2, 0.18, 0.2])
    currency = rng.choice(len(ctx.currencies), n, p=[0.9, 0.05, 0.05])
    terms_codes = [c for c in TERMS_SHARE if c in ctx.terms] or list(ctx.terms)
    share = np.array([TERMS_SHARE.get(c, 0.1) for c in terms_codes])
    terms = np.array(terms_codes)[rng.choice(len(terms_codes), n, p=share / share.sum())]
    limit_base = np.array([500_000, 120_000, 25_000])[seg]
    credit_limit = (np.round(limit_base * np.exp(rng.normal(0, 0.5, n)) / 1000) * 1000 * 100)
    pay_class = rng.choice(4, n, p=PAY_CLASS_SHARE)

    # account manager: a rep (or now and then the manager) of the customer's region
    rep_region = reps["_region"].to_numpy()
    rep_level = reps["_level"].to_numpy()
    rep_ids = reps["id"].to_numpy()
    manager_ids = np.zeros(n, dtype=np.int64)
    old_rep = np.zeros(n, dtype=np.int64)
    for r in range(5):
        mask = region == r
        pool = rep_ids[(rep_region == r) & (rep_level == 2)]
        pool = np.concatenate([pool, rep_ids[(rep_region == r) & (rep_level == 1)]])
        weights = np.where(np.arange(len(pool)) < len(pool) - 1, 1.0, 0.3)
        pick = rng.choice(len(pool), mask.sum(), p=weights / weights.sum())
        manager_ids[mask] = pool[pick]
        shift = 1 + rng.integers(0, len(pool) - 1, mask.sum())
        old_rep[mask] = pool[(pick + shift) % len(pool)]

    # activity window in days; a fifth joined during the period, some churned
    joined = rng.random(n) < 0.2
    active_from = np.where(joined, rng.integers(cal.start, cal.end - 60, n), cal.start)
    churned = rng.random(n) < 0.08
    churn_day = rng.integers(cal.start + 200, cal.end - 150, n)
    active_to = np.where(churned & (churn_day > active_from + 60), churn_day, cal.end)
    never = rng.random(n) < 0.01
    never[rng.choice(n, min(n, 3), replace=False)] = True
    created_day = np.where(joined, active_from - rng.integers(0, 30, n),
                           cal.start - rng.integers(30, 2000, n))
    weight = SEGMENT_ACTIVITY[seg] * np.exp(rng.normal(0, 0.7, n))

    # reassignment to another rep mid-history (orders before it keep the old rep)
    reassigned = (rng.random(n) < 0.05) & ~never
    reassigned[rng.choice(np.flatnonzero(~never), min(n // 10, 5), replace=False)] = True
    low = np.minimum(np.maximum(active_from, cal.start) + 60, cal.end - 21)
    reassign_day = np.where(reassigned, rng.integers(low, cal.end - 20), 0)
    reassigned &= reassign_day < active_to - 30
    reassign_day = np.where(reassigned, reassign_day, 0)
    old_rep = np.where(reassigned, old_rep, 0)

    # holds: mostly chronic late payers, every policy represented
    n_hold = max(3, n // 50)
    hold_pool = np.flatnonzero(~never & (pay_class >= LATE))
    hold_pool = hold_pool if len(hold_pool) >= n_hold else np.flatnonzero(~never)
    on_hold = np.zeros(n, dtype=bool)
    on_hold[rng.choice(hold_pool, min(n_hold, len(hold_pool)), replace=False)] = True
    hold_policy = np.full(n, "allow_nothing", dtype="<U16")
    held = np.flatnonzero(on_hold)
    hold_policy[held] = np.array(HOLD_POLICIES)[np.arange(len(held)) % 3]
    hold_day = np.where(on_hold, cal.end - rng.integers(5, 150, n), 0)
    hold_day = np.where(on_hold, np.maximum(hold_day, active_from + 10), 0)

    name = np.char.add(np.char.add(
        np.array(COMPANY_PREFIXES)[rng.integers(0, len(COMPANY_PREFIXES), n)], " "),
        np.array(COMPANY_CORES)[rng.integers(0, len(COMPANY_CORES), n)])
    name = np.char.add(np.char.add(name, " "),
                       np.array(COMPANY_SUFFIXES)[rng.integers(0, len(COMPANY_SUFFIXES), n)])
    created_at = timestamps(created_day, 9 * 3600 + rng.integers(0, 8 * 3600, n))
    status = np.where(never & (rng.random(n) < 0.5), "prospect", "active")
    collections = on_hold & (pay_class == CHRONIC)
    series = ctx.number_series("customer")
    return pl.DataFrame({
        "id": ids,
        "ref": numbers(series.prefix, series.padding, ids),
        "name": name,
        "status": status,
        "currency": np.array(ctx.currencies)[currency],
        "terms_code": terms,
        "credit_limit": credit_limit.astype(np.int64),
        "hold_state": np.where(on_hold, "on_hold", "none"),
        "hold_policy": hold_policy,
        "hold_reason": nullable(np.array([HOLD_REASONS[p] for p in hold_policy]), ~on_hold),
        "account_manager_id": manager_ids,
        "billing_status": np.where(collections, "collections", "ok"),
        "segment_code": np.array(SEGMENTS)[seg],
        "channel_code": np.array(CHANNELS)[channel],
        "region_code": np.array(REGIONS)[region],
        "rating": pl.Series([None] * n, dtype=pl.Utf8),
        "rating_override": nullable(np.full(n, "A"), rng.random(n) >= 0.01),
        "created_at": created_at,
        "updated_at": created_at,
        "_seg": seg,
        "_currency": currency,
        "_pay_class": pay_class,
        "_weight": np.where(never, 0.0, weight),
        "_active_from": active_from.astype(np.int32),
        "_active_to": active_to.astype(np.int32),
        "_never": never,
        "_reassign_day": reassign_day.astype(np.int32),
        "_old_rep": old_rep,
        "_hold_day": hold_day.astype(np.int32),
        "_created_day": created_day.astype(np.int32),
        "_fav_category": rng.integers(0, len(CATEGORIES), n),
    })


def build_locations(ctx: DemoContext, customers: pl.DataFrame) -> pl.DataFrame:
    """One default bill-to and 1–3 ship-tos per customer; some ship-tos sit in another
    region or carry a rep override."""
    rng = ctx.rng("locations")
    n = customers.height
    n_ship = 1 + (rng.random(n) < 0.3) + (rng.random(n) < 0.1)
    per = 1 + n_ship
    cust_idx = np.repeat(np.arange(n), per)
    k = np.arange(cust_idx.size) - np.repeat(np.cumsum(per) - per, per)
    kind = np.where(k == 0, "bill_to", "ship_to")
    m = cust_idx.size
    region = customers["region_code"].to_numpy()[cust_idx].astype(str)
    ship = k > 0
    u = rng.random(m)
    other_region = np.array(REGIONS)[rng.integers(0, 5, m)]
    region = np.where(ship & (u > 0.9), other_region, region)
    no_region = ship & (u < 0.5)  # falls back to the customer's region
    override = np.where(ship & (rng.random(m) < 0.03), rng.integers(7, N_REPS + 1, m), 0)
    am = customers["account_manager_id"].to_numpy()[cust_idx]
    override = np.where(override == am, 0, override)
    city = np.array(CITIES)[rng.integers(0, len(CITIES), m)]
    country = np.array(["US", "DE", "GB"])[customers["_currency"].to_numpy()[cust_idx]]
    names = customers["name"].to_numpy()[cust_idx]
    return pl.DataFrame({
        "id": np.arange(1, m + 1),
        "customer_id": customers["id"].to_numpy()[cust_idx],
        "kind": kind,
        "name": np.char.add(np.char.add(names.astype(str), " - "), city),
        "address": np.char.add(np.char.add(rng.integers(1, 999, m).astype(str), " "),
                               np.array(STREETS)[rng.integers(0, len(STREETS), m)]),
        "city": city,
        "postal_code": rng.integers(10000, 99999, m).astype(str),
        "country": country,
        "region_code": nullable(region, no_region),
        "rep_override_id": nullable(override, override == 0),
        "is_default": k <= 1,
        "_k": k,
    })


def build_contacts(ctx: DemoContext, customers: pl.DataFrame) -> pl.DataFrame:
    """One to three contacts per customer, the first one a purchasing contact."""
    rng = ctx.rng("contacts")
    n = customers.height
    per = 1 + (rng.random(n) < 0.5) + (rng.random(n) < 0.2)
    cust_idx = np.repeat(np.arange(n), per)
    k = np.arange(cust_idx.size) - np.repeat(np.cumsum(per) - per, per)
    m = cust_idx.size
    roles = np.array(["purchasing", "billing", "decision_maker", "technical", "other"])
    names = person_names(rng, m)
    return pl.DataFrame({
        "id": np.arange(1, m + 1),
        "customer_id": customers["id"].to_numpy()[cust_idx],
        "name": names,
        "role": roles[np.where(k == 0, 0, rng.integers(1, 5, m))],
        "email": np.char.add(np.char.add(np.char.lower(np.char.replace(names, " ", ".")), "@c"),
                             np.char.add(customers["id"].to_numpy()[cust_idx].astype(str),
                                         ".example.com")),
        "phone": np.char.add("+1-555-", rng.integers(1000000, 9999999, m).astype(str)),
    })


def build_customer_prices(ctx: DemoContext, customers: pl.DataFrame,
                          items: pl.DataFrame) -> pl.DataFrame:
    """Deal sheets: about 5 % of customers (mostly larger ones) get 3–10 negotiated prices."""
    rng = ctx.rng("customer_prices")
    seg = customers["_seg"].to_numpy()
    has = rng.random(customers.height) < np.array([0.3, 0.08, 0.02])[seg]
    who = np.flatnonzero(has & ~customers["_never"].to_numpy())
    per = rng.integers(3, 11, len(who))
    cust_idx = np.repeat(who, per)
    n_products = items.filter(pl.col("_currency") == 0).height
    product = rng.integers(1, n_products + 1, cust_idx.size)
    frame = pl.DataFrame({"customer_id": customers["id"].to_numpy()[cust_idx],
                          "product_id": product,
                          "_currency": customers["_currency"].to_numpy()[cust_idx],
                          "_factor": rng.uniform(0.85, 0.95, cust_idx.size)})
    frame = frame.unique(["customer_id", "product_id"], keep="first", maintain_order=True)
    frame = frame.join(items.select("product_id", "_currency", "unit_price"),
                       on=["product_id", "_currency"], how="left")
    price = ((frame["unit_price"].to_numpy() * frame["_factor"].to_numpy() / 100).round() * 100)
    price = price.astype(np.int64)
    return frame.with_columns(
        pl.Series("id", np.arange(1, frame.height + 1)),
        pl.Series("unit_price", price),
        pl.Series("min_price", (np.round(price * 0.95 / 100) * 100).astype(np.int64)),
        dates(np.full(frame.height, ctx.calendar.start - 30)).alias("valid_from"),
        pl.lit(None, dtype=pl.Date).alias("valid_to"),
    )
