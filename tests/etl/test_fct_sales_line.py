"""fct_sales_line: hand-made documents with known answers, the attribution rule, and a
reconciliation with the core's own totals on documents posted through the services."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.audit import set_actor
from core.billing.credit_notes import CreditLineInput, issue_credit_note
from core.billing.invoicing import invoice_order
from core.billing.models import CreditNote, CreditNoteLine, CreditReason, Invoice, InvoiceLine
from core.db import make_session_factory, transaction
from core.fulfilment.models import (
    Disposition,
    Rma,
    RmaLine,
    RmaType,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from core.fulfilment.rmas import create_rma, inspect_rma, receive_rma, resolve_rma
from core.types import round_money, to_minor
from etl.conform import polars_schema
from etl.extract import extract
from etl.facts.sales_line import CORE_TABLES, SCHEMA, build
from etl.schema import (
    dim_channel,
    dim_customer,
    dim_product,
    dim_region,
    dim_rep,
    fct_sales_line,
)
from tests.core.documents import posted_invoice, ship_lines, widget_order
from tests.core.world import FINANCE, build_world
from tests.etl.core_frames import amount, core_frames, price, quantity, rate

D = Decimal
END = date(9999, 12, 31)


def dim_frame(table, rows: list[dict[str, object]]) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    """A dimension frame with the mart columns of ``table``; columns left out are null."""
    schema = polars_schema(table)
    return pl.DataFrame([{c: row.get(c) for c in schema} for row in rows], schema=schema)


def hand_made_dims() -> dict[str, pl.DataFrame]:
    """Customer 1 has two versions: rep 7 / NORTH / DIRECT until 2025-05-01, then rep 8 /
    SOUTH / DISTRIBUTOR. Customer 2 is reassigned from rep 7 to rep 8 on 2025-07-01."""
    return {
        "dim_customer": dim_frame(dim_customer, [
            {"customer_key": -1, "customer_id": -1, "valid_from": date(1900, 1, 1),
             "valid_to": END, "is_current": True},
            {"customer_key": 10, "customer_id": 1, "account_manager_id": 7,
             "region_code": "NORTH", "channel_code": "DIRECT",
             "valid_from": date(2024, 1, 1), "valid_to": date(2025, 5, 1), "is_current": False},
            {"customer_key": 11, "customer_id": 1, "account_manager_id": 8,
             "region_code": "SOUTH", "channel_code": "DISTRIBUTOR",
             "valid_from": date(2025, 5, 1), "valid_to": END, "is_current": True},
            {"customer_key": 20, "customer_id": 2, "account_manager_id": 7,
             "region_code": "NORTH", "channel_code": "DIRECT",
             "valid_from": date(2024, 1, 1), "valid_to": date(2025, 7, 1), "is_current": False},
            {"customer_key": 21, "customer_id": 2, "account_manager_id": 8,
             "region_code": "SOUTH", "channel_code": "DIRECT",
             "valid_from": date(2025, 7, 1), "valid_to": END, "is_current": True},
        ]),
        "dim_rep": dim_frame(dim_rep, [
            {"rep_key": -1, "rep_id": -1}, {"rep_key": 1, "rep_id": 7},
            {"rep_key": 2, "rep_id": 8}, {"rep_key": 3, "rep_id": 9},
        ]),
        "dim_channel": dim_frame(dim_channel, [
            {"channel_key": -1, "channel_code": "?"}, {"channel_key": 1, "channel_code": "DIRECT"},
            {"channel_key": 2, "channel_code": "DISTRIBUTOR"},
        ]),
        "dim_region": dim_frame(dim_region, [
            {"region_key": -1, "region_code": "?"}, {"region_key": 1, "region_code": "NORTH"},
            {"region_key": 2, "region_code": "SOUTH"}, {"region_key": 3, "region_code": "WEST"},
        ]),
        "dim_product": dim_frame(dim_product, [
            {"product_key": -1, "product_id": -1}, {"product_key": 50, "product_id": 5},
            {"product_key": 60, "product_id": 6},
        ]),
    }


def _invoice(id_: int, number: str, order_id: int, customer_id: int, on: date,
             status: str = "posted", fx: str = "1") -> dict[str, object]:
    return {"id": id_, "number": number, "order_id": order_id, "customer_id": customer_id,
            "status": status, "invoice_date": on, "currency": "EUR", "fx_rate": rate(fx)}


def _invoice_line(id_: int, invoice_id: int, product_id: int | None, qty: str, *,
                  base_net: str, cost: str = "0", doc_discount: str = "0",
                  base_freight: str = "0") -> dict[str, object]:
    return {"id": id_, "invoice_id": invoice_id, "product_id": product_id,
            "quantity": quantity(qty), "doc_discount_amount": amount(doc_discount),
            "base_net_amount": amount(base_net), "cost_amount": amount(cost),
            "base_freight_amount": amount(base_freight)}


def test_every_column_of_invoice_credit_note_and_rma_rows() -> None:
    """An EUR invoice at 1.25 (two lines, document discount, freight), a restocked return
    against it, a standalone price adjustment, a restocked return without refund, and a
    replacement shipment; drafts, cancellations, scrapped and refunded RMAs and ordinary
    shipments make no row."""
    core = core_frames(
        CORE_TABLES,
        sales_order=[{"id": 100, "customer_id": 1, "order_date": date(2025, 1, 10),
                      "rep_id": 9, "channel_code": "DIRECT", "region_code": "WEST"}],
        sales_order_line=[{"id": 150, "order_id": 100, "product_id": 5},
                          {"id": 151, "order_id": 100, "product_id": 6}],
        invoice=[_invoice(200, "INV-0001", 100, 1, date(2025, 2, 3), fx="1.25"),
                 _invoice(210, None, 100, 1, date(2025, 2, 4), status="draft")],  # type: ignore[arg-type]
        invoice_line=[
            # 20.01 EUR × 1.25 = 25.0125 → 25.01; 10.02 × 1.25 = 12.525 → 12.53 (half-up)
            _invoice_line(201, 200, 5, "3", base_net="362.49", cost="19.50",
                          doc_discount="20.01", base_freight="5.00"),
            _invoice_line(202, 200, 6, "4", base_net="120.00", cost="5.00",
                          doc_discount="10.02", base_freight="2.50"),
            _invoice_line(211, 210, 5, "1", base_net="99.00"),
        ],
        credit_note=[
            {"id": 300, "number": "CN-0001", "customer_id": 1, "invoice_id": 200,
             "reason": "return", "status": "posted", "credit_date": date(2025, 3, 1)},
            {"id": 310, "number": "CN-0002", "customer_id": 1, "invoice_id": None,
             "reason": "price_adjustment", "status": "posted",
             "credit_date": date(2025, 6, 15)},
            {"id": 320, "number": None, "customer_id": 1, "invoice_id": 200,
             "reason": "return", "status": "cancelled", "credit_date": date(2025, 3, 2)},
        ],
        credit_note_line=[
            {"id": 301, "credit_note_id": 300, "invoice_line_id": 201, "product_id": 5,
             "quantity": quantity("1"), "is_restock": True, "unit_cost": price("6.5"),
             "cost_amount": amount("6.50"), "base_net_amount": amount("108.70")},
            {"id": 311, "credit_note_id": 310, "product_id": None, "quantity": quantity("1"),
             "is_restock": False, "cost_amount": 0, "base_net_amount": amount("50.00")},
            {"id": 321, "credit_note_id": 320, "invoice_line_id": 201, "product_id": 5,
             "quantity": quantity("1"), "cost_amount": amount("6.50"),
             "base_net_amount": amount("108.70")},
        ],
        rma=[
            {"id": 400, "number": "RMA-0001", "customer_id": 1, "invoice_id": 200,
             "rma_type": "return_without_refund", "state": "resolved",
             "disposition": "restock", "resolved_date": date(2025, 4, 10)},
            {"id": 410, "number": "RMA-0002", "customer_id": 1, "invoice_id": 200,
             "rma_type": "return_without_refund", "state": "resolved",
             "disposition": "scrap", "resolved_date": date(2025, 4, 11)},
            {"id": 420, "number": "RMA-0003", "customer_id": 1, "invoice_id": 200,
             "rma_type": "return_and_refund", "state": "resolved",
             "disposition": "restock", "resolved_date": date(2025, 4, 12)},
            {"id": 430, "number": "RMA-0004", "customer_id": 1, "invoice_id": 200,
             "rma_type": "return_without_refund", "state": "inspected",
             "disposition": "restock"},
        ],
        rma_line=[
            # 2 × 1.2345 = 2.469 → 2.47
            {"id": 401, "rma_id": 400, "invoice_line_id": 202, "product_id": 6,
             "quantity": quantity("2"), "unit_cost": price("1.2345")},
            {"id": 411, "rma_id": 410, "invoice_line_id": 202, "product_id": 6,
             "quantity": quantity("1"), "unit_cost": price("1.2345")},
            {"id": 421, "rma_id": 420, "invoice_line_id": 202, "product_id": 6,
             "quantity": quantity("1"), "unit_cost": price("1.2345")},
            {"id": 431, "rma_id": 430, "invoice_line_id": 202, "product_id": 6,
             "quantity": quantity("1"), "unit_cost": price("1.2345")},
        ],
        shipment=[
            {"id": 500, "number": "SHP-0005", "order_id": 100, "status": "shipped",
             "is_replacement": True, "shipped_date": date(2025, 5, 20)},
            {"id": 510, "number": "SHP-0001", "order_id": 100, "status": "shipped",
             "is_replacement": False, "shipped_date": date(2025, 1, 20)},
        ],
        shipment_line=[
            # 1.5 × 6.3333 = 9.49995 → 9.50
            {"id": 501, "shipment_id": 500, "order_line_id": 150, "quantity": quantity("1.5"),
             "unit_cost": price("6.3333")},
            {"id": 511, "shipment_id": 510, "order_line_id": 150, "quantity": quantity("3"),
             "unit_cost": price("6.5")},
        ],
    )

    fact = build(core, hand_made_dims(), "USD")

    assert fact.schema == SCHEMA
    assert fact.columns == [c.name for c in fct_sales_line.columns]
    # Order 100 is rep 9 / DIRECT / WEST, dated when customer 1 was version 10; the
    # standalone note takes customer 1's version at its own date (11: rep 8, SOUTH, DISTR.).
    order = (100, 20250203, 202502, 202506, 10, 1)
    assert fact.rows() == [
        ("invoice", 201, 200, "INV-0001", *order, 50, 3, 1, 3,
         D("3.0000"), 36249, 1950, 2501, 500, None),
        ("invoice", 202, 200, "INV-0001", *order, 60, 3, 1, 3,
         D("4.0000"), 12000, 500, 1253, 250, None),
        ("credit_note", 301, 300, "CN-0001", 100, 20250301, 202503, 202509, 10, 1, 50, 3, 1, 3,
         D("-1.0000"), -10870, -650, 0, 0, "return"),
        ("rma_cost", 401, 400, "RMA-0001", 100, 20250410, 202504, 202515, 10, 1, 60, 3, 1, 3,
         D("-2.0000"), 0, -247, 0, 0, None),
        ("replacement", 501, 500, "SHP-0005", 100, 20250520, 202505, 202521, 10, 1, 50, 3, 1, 3,
         D("1.5000"), 0, 950, 0, 0, None),
        ("credit_note", 311, 310, "CN-0002", None, 20250615, 202506, 202524, 11, 1, -1, 2, 2, 2,
         D("-1.0000"), -5000, 0, 0, 0, "price_adjustment"),
    ]


def test_history_stays_with_the_rep_of_the_order_after_a_customer_is_reassigned() -> None:
    """Customer 2 moves from rep 7 (NORTH) to rep 8 (SOUTH) on 2025-07-01. An order
    confirmed in May and invoiced in August stays with rep 7 and the old customer version;
    an order of July goes to rep 8 and the new version."""
    core = core_frames(
        CORE_TABLES,
        sales_order=[
            {"id": 600, "customer_id": 2, "order_date": date(2025, 5, 15), "rep_id": 7,
             "channel_code": "DIRECT", "region_code": "NORTH"},
            {"id": 620, "customer_id": 2, "order_date": date(2025, 7, 10), "rep_id": 8,
             "channel_code": "DIRECT", "region_code": "SOUTH"},
        ],
        invoice=[_invoice(610, "INV-0610", 600, 2, date(2025, 8, 20)),
                 _invoice(630, "INV-0630", 620, 2, date(2025, 8, 20))],
        invoice_line=[_invoice_line(611, 610, 5, "1", base_net="10.00"),
                      _invoice_line(631, 630, 5, "1", base_net="20.00")],
    )

    fact = build(core, hand_made_dims(), "USD")

    keys = fact.select("source_id", "date_key", "customer_key", "rep_key", "region_key",
                       "channel_key", "net_minor").rows()
    assert keys == [(611, 20250820, 20, 1, 1, 1, 1000), (631, 20250820, 21, 2, 2, 1, 2000)]


def test_missing_members_are_unknown_and_amounts_round_half_away_from_zero_in_jpy() -> None:
    """An order without rep/channel/region and a customer not in the dimension get -1; a
    JPY base rounds the converted document discount to whole yen."""
    core = core_frames(
        CORE_TABLES,
        sales_order=[{"id": 700, "customer_id": 99, "order_date": date(2025, 1, 1)}],
        invoice=[_invoice(710, "INV-0710", 700, 99, date(2025, 1, 2), fx="150.5")],
        invoice_line=[_invoice_line(711, 710, 77, "2", base_net="3010", doc_discount="0.01",
                                    cost="1000")],
    )

    fact = build(core, hand_made_dims(), "JPY")

    # 0.01 × 150.5 = 1.505 JPY → 2
    assert fact.select("customer_key", "product_key", "rep_key", "channel_key", "region_key",
                       "net_minor", "cost_minor", "discount_minor").rows() == [
        (-1, -1, -1, -1, -1, 3010, 1000, 2)]


def test_no_documents_give_an_empty_fact_with_the_mart_dtypes() -> None:
    fact = build(core_frames(CORE_TABLES), hand_made_dims(), "USD")
    assert fact.height == 0
    assert fact.schema == SCHEMA


# --- reconciliation with the core, through the services, on both databases -------------

def _simple_dims(engine: Engine) -> dict[str, pl.DataFrame]:
    """One customer version per customer from the beginning of time, keys = natural ids."""
    core = extract(engine, ["customer", "sales_rep", "channel", "region", "product"])
    customers = core["customer"].select(
        pl.col("id").alias("customer_key"), pl.col("id").alias("customer_id"),
        "account_manager_id", "region_code", "channel_code",
        pl.lit(date(1900, 1, 1)).alias("valid_from"), pl.lit(END).alias("valid_to"))
    return {
        "dim_customer": customers,
        "dim_rep": core["sales_rep"].select(pl.col("id").alias("rep_key"),
                                            pl.col("id").alias("rep_id")),
        "dim_channel": core["channel"].with_row_index("channel_key", offset=1)
        .select(pl.col("channel_key").cast(pl.Int32), pl.col("code").alias("channel_code")),
        "dim_region": core["region"].with_row_index("region_key", offset=1)
        .select(pl.col("region_key").cast(pl.Int32), pl.col("code").alias("region_code")),
        "dim_product": core["product"].select(pl.col("id").alias("product_key"),
                                              pl.col("id").alias("product_id")),
    }


def _core_sum(session: Session, column, *where) -> Decimal:  # type: ignore[no-untyped-def]
    return Decimal(session.scalar(select(func.coalesce(func.sum(column), 0)).where(*where))
                   or 0)


def test_totals_reconcile_with_documents_posted_through_the_services(
        isolated_engine: Engine) -> None:
    with transaction(make_session_factory(isolated_engine)) as session:
        set_actor(session, "test")
        world = build_world(session)
        first = posted_invoice(session, world, 7, date(2025, 3, 3))
        # Shipped to the depot (rep B, SOUTH) with an order discount and freight.
        order = widget_order(session, world, world.alice, 5, on=date(2025, 3, 4),
                             ship_to_id=world.ship_to.id, discount_amount=D("3.33"),
                             freight_charged=D("12.00"))
        ship_lines(session, world.alice, order, {order.lines[0].id: D(3)}, date(2025, 3, 5))
        second = invoice_order(session, world.alice, order.id, date(2025, 3, 5))
        issue_credit_note(session, FINANCE, world.customer.id, reason=CreditReason.RETURN,
                          credit_date=date(2025, 3, 10), invoice_id=first.id,
                          lines=[CreditLineInput(invoice_line_id=first.lines[0].id,
                                                 quantity=D(2), restock=True)])
        issue_credit_note(session, FINANCE, world.customer.id,
                          reason=CreditReason.PRICE_ADJUSTMENT, credit_date=date(2025, 3, 12),
                          lines=[CreditLineInput(amount=D("15.55"), description="goodwill")])
        kept = create_rma(session, world.alice, first.id,
                          rma_type=RmaType.RETURN_WITHOUT_REFUND,
                          lines={first.lines[0].id: D(1)}, requested_date=date(2025, 3, 15),
                          reason="wrong colour")
        replaced = create_rma(session, world.alice, second.id, rma_type=RmaType.REPLACEMENT,
                              lines={second.lines[0].id: D(2)},
                              requested_date=date(2025, 3, 15), reason="broken")
        for rma in (kept, replaced):
            receive_rma(session, world.alice, rma.id, date(2025, 3, 16))
            inspect_rma(session, world.alice, rma.id, date(2025, 3, 17), Disposition.RESTOCK)
            resolve_rma(session, world.alice, rma.id, date(2025, 3, 18))
        depot_rep_id, customer_id, depot_order_id = world.rep_b.id, world.customer.id, order.id

    with make_session_factory(isolated_engine)() as session:
        posted_line = InvoiceLine.invoice_id.in_(select(Invoice.id).where(
            Invoice.status == "posted"))
        posted_credit = CreditNoteLine.credit_note_id.in_(select(CreditNote.id).where(
            CreditNote.status == "posted"))
        invoiced_net = _core_sum(session, InvoiceLine.base_net_amount, posted_line)
        invoiced_cost = _core_sum(session, InvoiceLine.cost_amount, posted_line)
        freight = _core_sum(session, InvoiceLine.base_freight_amount, posted_line)
        discount = _core_sum(session, Invoice.discount_amount, Invoice.status == "posted")
        credited_net = _core_sum(session, CreditNoteLine.base_net_amount, posted_credit)
        credited_cost = _core_sum(session, CreditNoteLine.cost_amount, posted_credit)
        restocked = sum((round_money(q * c, "USD") for q, c in session.execute(
            select(RmaLine.quantity, RmaLine.unit_cost).join(Rma).where(
                Rma.rma_type == RmaType.RETURN_WITHOUT_REFUND, Rma.state == "resolved",
                Rma.disposition == Disposition.RESTOCK))), D(0))
        replacement = sum((round_money(q * c, "USD") for q, c in session.execute(
            select(ShipmentLine.quantity, ShipmentLine.unit_cost).join(Shipment).where(
                Shipment.is_replacement.is_(True),
                Shipment.status == ShipmentStatus.SHIPPED))), D(0))
    assert credited_cost > 0 and restocked > 0 and replacement > 0 and discount > 0

    fact = build(extract(isolated_engine, CORE_TABLES), _simple_dims(isolated_engine), "USD")

    sums = fact.select(pl.col("net_minor", "cost_minor", "discount_minor",
                              "freight_charged_minor").sum()).row(0)
    assert sums == (
        to_minor(invoiced_net - credited_net, "USD"),
        to_minor(invoiced_cost - credited_cost - restocked + replacement, "USD"),
        to_minor(discount, "USD"),  # a USD customer: document discount = base discount
        to_minor(freight, "USD"),
    )
    assert fact.group_by("source_type").len().sort("source_type").rows() == [
        ("credit_note", 2), ("invoice", 2), ("replacement", 1), ("rma_cost", 1)]
    assert fact.select(pl.struct("source_type", "source_id").is_unique().all()).item()
    assert fact["customer_key"].to_list() == [customer_id] * 6
    depot_rows = fact.filter(pl.col("order_id") == depot_order_id)
    assert set(depot_rows["rep_key"].to_list()) == {depot_rep_id}
    assert fact.filter(pl.col("rep_key") == -1).height == 0
