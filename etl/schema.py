"""The star schema (mart) as SQLAlchemy Core metadata: the one definition the DDL files in
``sql/``, the publish step and the checks are generated from.

Conventions (DESIGN D5): ``*_key`` integer surrogate keys (``-1`` = unknown member),
``*_id`` natural keys from the core, ``date_key`` = YYYYMMDD, ``month_key`` = YYYYMM,
``week_key`` = ISO year × 100 + ISO week, ``*_minor`` = integer minor units of the base
currency (``*_doc_minor``: of the document currency), ``is_*`` booleans. Quantities are exact
NUMERIC(18,4).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
)

mart = MetaData()
UNKNOWN_KEY = -1
QUANTITY = Numeric(18, 4)


def _key(name: str, **kwargs: object) -> Column[int]:
    return Column(name, Integer, nullable=False, **kwargs)  # type: ignore[arg-type]


def _minor(name: str) -> Column[int]:
    return Column(name, BigInteger, nullable=False)


def _code(name: str, length: int = 32, nullable: bool = True) -> Column[str]:
    return Column(name, String(length), nullable=nullable)


def _line_keys() -> list[Column[int]]:
    """Date, month and week keys, the customer version and id, the product, and the rep,
    channel and region the line is attributed to: the keys of a sales or cost line."""
    return [_key("date_key"), _key("month_key"), _key("week_key"), _key("customer_key"),
            Column("customer_id", Integer, nullable=False), _key("product_key"),
            _key("rep_key"), _key("channel_key"), _key("region_key")]


dim_date = Table(
    "dim_date", mart,
    Column("date_key", Integer, primary_key=True, autoincrement=False),
    Column("date", Date, nullable=False, unique=True),
    Column("year", Integer, nullable=False),
    Column("quarter", Integer, nullable=False),
    Column("month", Integer, nullable=False),
    Column("month_key", Integer, nullable=False),
    Column("day_of_week", Integer, nullable=False),  # ISO: Monday 1 … Sunday 7
    Column("iso_year", Integer, nullable=False),
    Column("iso_week", Integer, nullable=False),
    Column("week_key", Integer, nullable=False),
    Column("fiscal_year", Integer, nullable=False),
    Column("fiscal_quarter", Integer, nullable=False),
    Column("fiscal_month", Integer, nullable=False),
    Column("is_weekend", Boolean, nullable=False),
    comment="One row per calendar day; fiscal periods from the company's fiscal year start.",
)

dim_region = Table(
    "dim_region", mart,
    Column("region_key", Integer, primary_key=True, autoincrement=False),
    _code("region_code", nullable=False),
    Column("name", String(200), nullable=False),
    comment="One row per sales region, plus the unknown member -1.",
)

dim_channel = Table(
    "dim_channel", mart,
    Column("channel_key", Integer, primary_key=True, autoincrement=False),
    _code("channel_code", nullable=False),
    Column("name", String(200), nullable=False),
    comment="One row per sales channel, plus the unknown member -1.",
)

dim_rep = Table(
    "dim_rep", mart,
    Column("rep_key", Integer, primary_key=True, autoincrement=False),
    Column("rep_id", Integer, nullable=False),
    _code("code", nullable=False),
    Column("name", String(200), nullable=False),
    Column("manager_rep_id", Integer),
    _code("region_code"),
    Column("tree_path", String(400), nullable=False),  # "/head/…/rep/": subtree = prefix match
    Column("is_active", Boolean, nullable=False),
    comment="One row per sales rep (current state) with its reporting-tree path; -1 unknown.",
)

dim_product = Table(
    "dim_product", mart,
    Column("product_key", Integer, primary_key=True, autoincrement=False),
    Column("product_id", Integer, nullable=False),
    _code("sku", nullable=False),
    Column("name", String(200), nullable=False),
    Column("category", String(100), nullable=False),
    Column("product_line", String(100), nullable=False),
    Column("is_active", Boolean, nullable=False),
    comment="One row per product (current state); -1 for lines without a product.",
)

dim_location = Table(
    "dim_location", mart,
    Column("location_key", Integer, primary_key=True, autoincrement=False),
    Column("location_id", Integer, nullable=False),
    Column("customer_id", Integer, nullable=False),
    _code("kind", 16, nullable=False),
    Column("name", String(200), nullable=False),
    Column("city", String(100)),
    Column("country", String(60)),
    _code("region_code"),
    Column("rep_override_id", Integer),
    comment="One row per customer location (bill-to / ship-to); -1 unknown.",
)

dim_customer = Table(
    "dim_customer", mart,
    Column("customer_key", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", Integer, nullable=False),
    _code("ref", nullable=False),
    Column("name", String(200), nullable=False),
    _code("currency", 3, nullable=False),
    _code("segment_code"),
    _code("channel_code"),
    _code("region_code"),
    Column("account_manager_id", Integer),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=False),  # exclusive; 9999-12-31 while current
    Column("is_current", Boolean, nullable=False),
    Index("ix_dim_customer_natural", "customer_id", "valid_from", unique=True),
    comment="Type 2: one row per customer version; a new version when the account "
            "manager, region, segment or channel changes. -1 unknown.",
)

fct_sales_line = Table(
    "fct_sales_line", mart,
    _code("source_type", 16, nullable=False),  # invoice | credit_note | rma_cost | replacement
    Column("source_id", Integer, nullable=False),  # invoice/credit-note/rma/shipment line id
    Column("document_id", Integer, nullable=False),
    _code("document_number", nullable=False),
    Column("order_id", Integer),
    *_line_keys(),
    Column("quantity", QUANTITY, nullable=False),
    _minor("net_minor"),  # net of line and document discounts, excl. tax and freight
    _minor("cost_minor"),
    _minor("discount_minor"),  # the line's share of the document discount
    _minor("freight_charged_minor"),
    _code("credit_reason", 24),
    Index("ix_fct_sales_line_date", "date_key"),
    Index("ix_fct_sales_line_month", "month_key"),
    Index("ix_fct_sales_line_customer", "customer_id"),
    Index("ix_fct_sales_line_rep", "rep_key"),
    Index("ix_fct_sales_line_source", "source_type", "source_id", unique=True),
    comment="One row per invoice line (+), credit-note line (−) or RMA cost event (net 0: "
            "restocked return without refund, replacement shipment); rep, channel and region "
            "from the order; customer version at the order date.",
)

fct_freight_cost = Table(
    "fct_freight_cost", mart,
    Column("shipment_line_id", Integer, nullable=False),
    Column("shipment_id", Integer, nullable=False),
    _code("shipment_number", nullable=False),
    Column("order_id", Integer, nullable=False),
    Column("is_replacement", Boolean, nullable=False),
    *_line_keys(),  # dated at the shipped date
    _minor("freight_cost_minor"),  # the line's share of the shipment's freight cost
    Index("ix_fct_freight_cost_line", "shipment_line_id", unique=True),
    Index("ix_fct_freight_cost_date", "date_key"),
    Index("ix_fct_freight_cost_customer", "customer_id"),
    comment="One row per line of a shipped shipment with a freight cost: the shipment's "
            "freight cost pro rata to line value (remainder to the largest line), dated at "
            "shipping; rep, channel and region from the order; customer version at the "
            "order date.",
)

fct_order = Table(
    "fct_order", mart,
    Column("order_id", Integer, primary_key=True, autoincrement=False),
    _code("order_number", nullable=False),
    Column("quote_id", Integer),
    _key("date_key"),  # order date
    _key("month_key"),
    _key("confirmed_date_key"),
    _key("customer_key"),
    Column("customer_id", Integer, nullable=False),
    _key("rep_key"),
    _key("channel_key"),
    _key("region_key"),
    _code("status", 16, nullable=False),
    Column("is_cash_sale", Boolean, nullable=False),
    # (ordered − cancelled) lines at net price less the order discount pro rata, at the
    # order's rate.
    _minor("net_minor"),
    Column("line_count", Integer, nullable=False),
    _key("promised_ship_date_key"),
    _key("cancelled_date_key"),
    _key("first_shipped_date_key"),
    _key("last_shipped_date_key"),
    Column("is_shipped_complete", Boolean, nullable=False),
    Column("is_on_time", Boolean),  # shipped complete by the promised date; null while open
    Index("ix_fct_order_date", "date_key"),
    Index("ix_fct_order_customer", "customer_id"),
    comment="One row per sales order (drafts included, status says which); attribution "
            "fixed at confirmation; amounts in base currency at the order's rate.",
)

fct_order_line = Table(
    "fct_order_line", mart,
    Column("order_line_id", Integer, primary_key=True, autoincrement=False),
    Column("order_id", Integer, nullable=False),
    _key("date_key"),
    _key("month_key"),
    _key("customer_key"),
    Column("customer_id", Integer, nullable=False),
    _key("product_key"),
    _key("rep_key"),
    _key("channel_key"),
    _key("region_key"),
    _code("order_status", 16, nullable=False),
    Column("quantity", QUANTITY, nullable=False),
    Column("cancelled_quantity", QUANTITY, nullable=False),
    Column("shipped_quantity", QUANTITY, nullable=False),
    Column("invoiced_quantity", QUANTITY, nullable=False),
    _minor("net_minor"),  # (ordered − cancelled) × net unit price, base, before order discount
    _minor("invoiced_minor"),  # base net of posted invoice lines of this order line
    # Confirmed orders: open quantity at the net price less its share of the order discount,
    # at the order's rate, never below 0; 0 for drafts and cancelled orders.
    _minor("backlog_minor"),
    # The same backlog in minor units of the order's (= the customer's) currency: what credit
    # control compares with the credit limit.
    Column("backlog_doc_minor", BigInteger, nullable=False),
    _key("promised_ship_date_key"),
    _key("last_shipped_date_key"),
    Index("ix_fct_order_line_order", "order_id"),
    Index("ix_fct_order_line_customer", "customer_id"),
    comment="One row per sales order line, current state: quantities, invoiced and backlog "
            "amounts (backlog as of now; as-of backlog comes from fct_booking).",
)

fct_booking = Table(
    "fct_booking", mart,
    _code("event_type", 16, nullable=False),  # confirmed | amended | cancelled
    Column("event_seq", BigInteger, nullable=False),  # audit seq; 0 for the confirmation
    Column("order_id", Integer, nullable=False),
    Column("order_line_id", Integer, nullable=False),
    _key("date_key"),
    _key("month_key"),
    _key("week_key"),
    _key("customer_key"),
    Column("customer_id", Integer, nullable=False),
    _key("product_key"),
    _key("rep_key"),
    _key("channel_key"),
    _key("region_key"),
    Column("quantity_delta", QUANTITY, nullable=False),
    _minor("net_delta_minor"),
    Index("ix_fct_booking_event", "order_line_id", "event_type", "event_seq", unique=True),
    Index("ix_fct_booking_date", "date_key"),
    comment="One row per booking event of an order line: + on confirmation, ± on amendment "
            "or cancellation, dated at the change (KPIS bookings).",
)

fct_quote = Table(
    "fct_quote", mart,
    Column("quote_id", Integer, primary_key=True, autoincrement=False),
    _code("quote_number", nullable=False),
    Column("opportunity_id", Integer),
    Column("revision_of_id", Integer),
    Column("revision_no", Integer, nullable=False),
    _key("customer_key"),
    Column("customer_id", Integer, nullable=False),
    _key("rep_key"),
    _code("status", 16, nullable=False),
    _key("quote_date_key"),
    _key("sent_date_key"),
    _key("decided_date_key"),
    _key("valid_until_key"),
    _minor("net_minor"),  # base currency at the quote date's rate
    Index("ix_fct_quote_customer", "customer_id"),
    comment="One row per quote (every revision), current status and its dates.",
)

fct_opportunity_history = Table(
    "fct_opportunity_history", mart,
    Column("opportunity_id", Integer, nullable=False),
    Column("version_no", Integer, nullable=False),
    Column("valid_from", DateTime, nullable=False),
    Column("valid_to", DateTime, nullable=False),  # exclusive; 9999-12-31 while current
    Column("is_current", Boolean, nullable=False),
    _key("customer_key"),
    Column("customer_id", Integer, nullable=False),
    _key("rep_key"),
    _code("stage", 16, nullable=False),
    _code("state", 8, nullable=False),
    _minor("amount_minor"),  # base currency
    Column("probability", Numeric(9, 4)),  # own probability; null: the stage default applies
    Column("effective_probability", Numeric(9, 4), nullable=False),  # own, else stage default
    _key("expected_close_date_key"),
    _key("created_date_key"),
    _key("closed_date_key"),
    Index("ix_fct_opportunity_history_version", "opportunity_id", "version_no", unique=True),
    Index("ix_fct_opportunity_history_valid", "valid_from", "valid_to"),
    comment="One row per opportunity version (from the audit log): pipeline as of any "
            "time is a range filter; movement between two dates is exact.",
)

fct_ar_item = Table(
    "fct_ar_item", mart,
    _code("item_type", 16, nullable=False),  # invoice | credit_note | payment | refund | reversal
    Column("document_id", Integer, nullable=False),
    _code("document_number", nullable=False),
    _key("customer_key"),
    Column("customer_id", Integer, nullable=False),
    _key("document_date_key"),
    _key("due_date_key"),
    Column("posted_at", DateTime, nullable=False),
    _code("currency", 3, nullable=False),
    Column("fx_rate", Numeric(18, 10), nullable=False),
    Column("amount_doc_minor", BigInteger, nullable=False),  # signed: + owed, − credit
    _minor("amount_minor"),  # signed, base currency at the document's rate
    Column("is_disputed", Boolean, nullable=False),
    Column("is_cash_sale", Boolean, nullable=False),
    _key("promise_to_pay_date_key"),
    # Invoices: the rep, channel and region of their sales lines (the order's); others -1.
    _key("rep_key"),
    _key("channel_key"),
    _key("region_key"),
    # The last allocation's date when the allocations add up to the amount as of the batch
    # (open 0 from then on); -1 while open. A document is open as of D only if -1 or > D.
    _key("settled_date_key"),
    Index("ix_fct_ar_item_document", "item_type", "document_id", unique=True),
    Index("ix_fct_ar_item_customer", "customer_id"),
    comment="One row per receivable document: invoice (+), credit note (−), payment (−), "
            "refund or reversal (+). AR as of any date = items − allocations dated ≤ it.",
)

fct_ar_allocation = Table(
    "fct_ar_allocation", mart,
    Column("allocation_id", Integer, primary_key=True, autoincrement=False),
    Column("reversal_of_id", Integer),
    _code("source_type", 16, nullable=False),  # payment | credit_note
    Column("source_id", Integer, nullable=False),
    _code("target_type", 16, nullable=False),  # invoice | refund | reversal
    Column("target_id", Integer, nullable=False),
    _key("customer_key"),
    Column("customer_id", Integer, nullable=False),
    _key("allocation_date_key"),
    Column("created_at", DateTime, nullable=False),
    Column("amount_doc_minor", BigInteger, nullable=False),  # signed (reversals negative)
    _minor("amount_minor"),  # base at the target invoice's rate (KPIS: FX is not AR)
    Column("days_to_pay", Integer),  # cash allocations to invoices: received − invoice date
    Column("days_late", Integer),  # received − due date (signed)
    _key("settled_date_key"),  # the later of both documents' (-1: either is open)
    Index("ix_fct_ar_allocation_target", "target_type", "target_id"),
    Index("ix_fct_ar_allocation_customer", "customer_id"),
    comment="One row per allocation or reversal of a payment or credit note to an invoice "
            "or a refund; days to pay and days late for cash applied to invoices.",
)

fct_customer_month = Table(
    "fct_customer_month", mart,
    Column("customer_id", Integer, nullable=False),
    _key("month_key"),
    _key("customer_key"),  # the customer's current version (-1: none)
    Column("order_count", Integer, nullable=False),  # confirmed, not cancelled, by order date
    _minor("net_sales_minor"),  # KPIS net sales: settlement discounts and bad debt excluded
    _minor("cost_minor"),
    _minor("gross_margin_minor"),
    _minor("freight_charged_minor"),
    _minor("freight_cost_minor"),  # fct_freight_cost, by shipped date
    _minor("settlement_discount_minor"),  # credited: positive
    _minor("bad_debt_minor"),  # written off: positive
    # Cash applied to invoices, by allocation date; × days (minor units × days) so that
    # weighted averages are ratios of sums: days late = cash_days_late / cash_applied.
    _minor("cash_applied_minor"),
    _minor("cash_days_late_minor"),
    _minor("cash_days_to_pay_minor"),
    # Rating inputs: the 12 months ending with this one.
    _minor("net_sales_12m_minor"),
    _minor("gross_margin_12m_minor"),
    _minor("cash_applied_12m_minor"),
    _minor("cash_days_late_12m_minor"),
    # Engagement at month end (the run date for the current month); null status: the
    # customer did not exist yet.
    _code("engagement_status", 8),  # never | new | active | at_risk | lapsed
    _key("last_order_date_key"),
    Column("days_since_last_order", Integer),
    Column("expected_interval_days", Numeric(7, 2)),  # E of KPIS; null before any order
    Index("ix_fct_customer_month_customer", "customer_id", "month_key", unique=True),
    Index("ix_fct_customer_month_month", "month_key"),
    comment="One row per customer per month from its creation or first activity to the "
            "current month: orders, net sales, margin, contribution terms, payment timing, "
            "12-month rating inputs and engagement status at month end.",
)

fct_target = Table(
    "fct_target", mart,
    _key("rep_key"),
    _key("month_key"),
    Column("days_in_month", Integer, nullable=False),  # for pro-rating a partial month
    _minor("target_minor"),
    Index("ix_fct_target_rep_month", "rep_key", "month_key", unique=True),
    comment="One row per rep per month with a net-sales target (base currency); a team's "
            "target is the sum of its reps'.",
)

agg_sales_month = Table(
    "agg_sales_month", mart,
    _key("month_key"),
    _key("channel_key"),
    _key("rep_key"),
    _key("region_key"),
    Column("category", String(100), nullable=False),  # the product's current category
    _code("segment_code"),  # of the customer version on the sales line
    Column("line_count", Integer, nullable=False),  # fct_sales_line rows
    Column("quantity", QUANTITY, nullable=False),
    _minor("net_sales_minor"),
    _minor("settlement_discount_minor"),
    _minor("bad_debt_minor"),
    _minor("cost_minor"),
    _minor("discount_minor"),
    _minor("freight_charged_minor"),
    _minor("freight_cost_minor"),  # fct_freight_cost, by shipped date
    Index("ix_agg_sales_month_month", "month_key"),
    comment="fct_sales_line and fct_freight_cost summed per month × channel × rep × region × "
            "product category × customer segment (attribution as on the rows). Distinct "
            "counts (orders, customers) do not add up across rows and are left to the facts.",
)

# --- Cash-flow forecast (KPIS "Cash-flow forecast"; etl.facts.cash_forecast and
# forecast_backtest). Rebuilt whole on every run, as of the run date; amounts in minor units
# of the base currency; week_no 1 … 13 = the ISO weeks from the one holding the day after the
# run date (week_start_date_key = its Monday).

fct_cash_forecast_item = Table(
    "fct_cash_forecast_item", mart,
    _code("item_type", 16, nullable=False),  # invoice | backlog
    Column("document_id", Integer, nullable=False),  # invoice id | order line id
    Column("customer_id", Integer, nullable=False),
    Column("account_manager_id", Integer, nullable=False),  # current version's; -1 none
    _code("segment_code"),  # current version's (null: the all-customers pool stands in)
    _minor("amount_minor"),  # open amount of the invoice | backlog of the line
    _key("document_date_key"),  # invoice date | expected invoice date (backlog)
    _key("due_date_key"),
    _key("promise_to_pay_date_key"),  # honoured: after the run date; else -1
    Column("days_overdue", Integer, nullable=False),  # run date − due date (draws exceed it)
    Column("is_disputed", Boolean, nullable=False),
    Column("is_on_hold", Boolean, nullable=False),  # the customer's hold state at the run
    _minor("expected_minor"),  # mean receipt within the 13 weeks over the simulations
    Index("ix_fct_cash_forecast_item_item", "item_type", "document_id", unique=True),
    Index("ix_fct_cash_forecast_item_customer", "customer_id"),
    comment="One row per item the cash forecast simulates (open invoice or backlog order "
            "line) as of the run date: the inputs a scenario re-simulates it from.",
)

fct_cash_forecast = Table(
    "fct_cash_forecast", mart,
    Column("customer_id", Integer, nullable=False),
    _key("customer_key"),  # current version
    Column("week_no", Integer, nullable=False),
    _key("week_start_date_key"),
    Column("is_on_hold", Boolean, nullable=False),
    _minor("expected_minor"),  # mean over the simulations (quantiles do not add)
    _minor("disputed_expected_minor"),  # the part from disputed invoices
    _minor("naive_minor"),  # every item paid on its due date
    _minor("disputed_naive_minor"),
    Index("ix_fct_cash_forecast_customer_week", "customer_id", "week_no", unique=True),
    comment="One row per customer and horizon week with an expected or naive receipt: "
            "expected (mean) receipts by customer.",
)

fct_cash_forecast_week = Table(
    "fct_cash_forecast_week", mart,
    Column("week_no", Integer, primary_key=True, autoincrement=False),
    _key("week_start_date_key"),
    _key("week_key"),
    _key("as_of_date_key"),  # the run date the forecast is made as of
    Column("seed", BigInteger, nullable=False),  # forecast_seed(as of date)
    _minor("p10_minor"),
    _minor("p50_minor"),
    _minor("p90_minor"),
    _minor("expected_minor"),
    _minor("naive_minor"),
    comment="One row per horizon week: P10/P50/P90 and mean of the weekly total of every "
            "customer over the simulations, and the naive due-date forecast.",
)

fct_cash_forecast_sim = Table(
    "fct_cash_forecast_sim", mart,
    Column("account_manager_id", Integer, nullable=False),  # -1 none
    Column("is_on_hold", Boolean, nullable=False),
    Column("is_disputed", Boolean, nullable=False),
    Column("sim_no", Integer, nullable=False),  # 0 … 999
    *(_minor(f"week_{week:02d}_minor") for week in range(1, 14)),
    Index("ix_fct_cash_forecast_sim_cell", "account_manager_id", "is_on_hold", "is_disputed",
          "sim_no", unique=True),
    comment="One row per cell (current account manager × customer on hold × invoice "
            "disputed) and simulation: that cell's simulated receipts in each horizon week. "
            "Scopes and scenarios add cells up per simulation, then take quantiles.",
)

fct_payment_days_late = Table(
    "fct_payment_days_late", mart,
    _code("pool", 8, nullable=False),  # customer | segment | all
    Column("customer_id", Integer, nullable=False),  # the customer's pool; -1 otherwise
    _code("segment_code"),  # the segment's pool; null otherwise
    Column("days_late", Integer, nullable=False),  # paid: days late; open: days overdue
    Column("paid_invoices", Integer, nullable=False),
    Column("open_invoices", Integer, nullable=False),  # censored: not paid after so many days
    Index("ix_fct_payment_days_late_pool", "pool", "customer_id", "segment_code",
          "days_late", unique=True),
    comment="The days-late distributions the cash forecast draws from (Kaplan–Meier): one "
            "row per pool (a customer with forecast items, a segment, all customers) and days "
            "late, with how many invoices (not cash sales) were paid that late and how many "
            "are still open that many days past due at the run date.",
)

fct_payment_risk = Table(
    "fct_payment_risk", mart,
    Column("customer_id", Integer, primary_key=True, autoincrement=False),
    Column("paid_invoices", Integer, nullable=False),  # n: invoices with cash applied
    _minor("paid_minor"),  # cash applied to its invoices (not cash sales), at their rates
    _minor("late_minor"),  # the part received after the due date
    _minor("prior_paid_minor"),  # its segment's (else every customer's) cash applied
    _minor("prior_late_minor"),  # … and the part of it paid late
    Column("risk_ppm", BigInteger),  # n/(n+5) × own + 5/(n+5) × prior share; null: no history
    comment="One row per current customer: its risk of paying late (the collections "
            "worklist's rank), from every cash allocation to its invoices in the batch, "
            "blended with its segment's (etl.facts.payment_risk).",
)

fct_forecast_backtest = Table(
    "fct_forecast_backtest", mart,
    _key("origin_date_key"),  # a week start; the forecast is made as of the day before
    Column("week_no", Integer, nullable=False),
    _key("week_start_date_key"),
    _minor("p10_minor"),
    _minor("p50_minor"),
    _minor("p90_minor"),
    _minor("expected_minor"),
    _minor("naive_minor"),
    _minor("actual_minor"),  # cash received that week on invoices open at the origin
    Column("is_complete", Boolean, nullable=False),  # the week ended before the run date
    Index("ix_fct_forecast_backtest_origin_week", "origin_date_key", "week_no", unique=True),
    comment="One row per backtest origin (the last 8 week starts) and horizon week: the "
            "forecast of invoices open at the origin against what they actually received.",
)

etl_run = Table(
    "etl_run", mart,
    _code("batch_id", 40, nullable=False),
    Column("mode", String(12), nullable=False),  # full | incremental
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("status", String(12), nullable=False),  # running | published | failed
    Column("watermark_seq", BigInteger),
    Column("rows", String(4000)),  # JSON: rows per table
    Column("error", String(4000)),
    Index("ix_etl_run_batch", "batch_id", unique=True),
    comment="One row per ETL run: the run log.",
)

etl_publish = Table(
    "etl_publish", mart,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    _code("published_batch_id", 40, nullable=False),
    Column("published_at", DateTime, nullable=False),
    Column("watermark_seq", BigInteger, nullable=False),
    comment="Exactly one row: the batch the dashboard reads. A batch is published only "
            "when this row says so.",
)

DIMENSIONS = (dim_date, dim_region, dim_channel, dim_rep, dim_product, dim_location,
              dim_customer)
FACTS = (fct_sales_line, fct_freight_cost, fct_order, fct_order_line, fct_booking, fct_quote,
         fct_opportunity_history, fct_ar_item, fct_ar_allocation, fct_customer_month,
         fct_target, fct_cash_forecast_item, fct_cash_forecast, fct_cash_forecast_week,
         fct_cash_forecast_sim, fct_payment_days_late, fct_forecast_backtest, fct_payment_risk)
AGGREGATES = (agg_sales_month,)


def row_key(table: Table) -> tuple[str, ...]:
    """The columns that name one row of ``table``: its primary key, else its unique index
    (an incremental publish deletes and inserts rows by it, ``etl.load.rewrite_rows``)."""
    if table.primary_key.columns:
        return tuple(column.name for column in table.primary_key.columns)
    unique = sorted((index for index in table.indexes if index.unique),
                    key=lambda index: index.name or "")
    if not unique:
        raise ValueError(f"{table.name} has no primary key and no unique index")
    return tuple(column.name for column in unique[0].columns)
