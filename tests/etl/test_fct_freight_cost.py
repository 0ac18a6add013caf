"""fct_freight_cost: hand-made shipments with known answers — the split of a shipment's
freight cost over its lines pro rata to line value (remainder to the largest line), which
shipments make rows, and the attribution to the order's rep after a reassignment."""

from __future__ import annotations

from datetime import date

from etl.facts.freight_cost import CORE_TABLES, SCHEMA, build
from etl.schema import fct_freight_cost
from tests.etl.core_frames import amount, core_frames, price, quantity
from tests.etl.test_fct_sales_line import hand_made_dims


def _shipment(id_: int, order_id: int, status: str, shipped: date | None, freight: str,
              *, replacement: bool = False) -> dict[str, object]:
    return {"id": id_, "number": f"SHP-{id_}", "order_id": order_id, "status": status,
            "is_replacement": replacement, "shipped_date": shipped,
            "freight_cost": amount(freight)}


def _order_line(id_: int, order_id: int, product_id: int, unit_price: str,
                discount: str = "0") -> dict[str, object]:
    return {"id": id_, "order_id": order_id, "product_id": product_id,
            "unit_price": price(unit_price), "discount_pct": price(discount)}


def _line(id_: int, shipment_id: int, order_line_id: int, qty: str) -> dict[str, object]:
    return {"id": id_, "shipment_id": shipment_id, "order_line_id": order_line_id,
            "quantity": quantity(qty)}


def test_each_shipment_splits_its_freight_cost_over_its_lines_by_value() -> None:
    """Order 100 (customer 1, rep 9 / DIRECT / WEST, version 10 at its date). Shipment 500
    costs 10.00 over lines worth 2 × 10.00 × 0.9 = 18.00 and 3 × 3.3333 = 9.9999: 6.43 and
    3.57. Shipment 510 costs 0.05 over 3.00 and 7.00: 0.015 → 0.02 and 0.035 → 0.04 round
    up to 0.06, so the larger line gives the cent back (0.03). A replacement shipment
    counts; a packed, a cancelled and a free shipment make no row."""
    core = core_frames(
        CORE_TABLES,
        sales_order=[{"id": 100, "customer_id": 1, "order_date": date(2025, 1, 10),
                      "rep_id": 9, "channel_code": "DIRECT", "region_code": "WEST"}],
        sales_order_line=[_order_line(150, 100, 5, "10.00", "0.1"),
                          _order_line(151, 100, 6, "3.3333"),
                          _order_line(152, 100, 5, "1.00"), _order_line(153, 100, 6, "7.00")],
        shipment=[_shipment(500, 100, "shipped", date(2025, 2, 3), "10.00"),
                  _shipment(510, 100, "shipped", date(2025, 3, 1), "0.05"),
                  _shipment(520, 100, "shipped", date(2025, 4, 2), "4.00", replacement=True),
                  _shipment(530, 100, "packed", None, "5.00"),
                  _shipment(540, 100, "shipped", date(2025, 4, 3), "0"),
                  _shipment(550, 100, "cancelled", None, "2.00")],
        shipment_line=[_line(501, 500, 150, "2"), _line(502, 500, 151, "3"),
                       _line(511, 510, 152, "3"), _line(512, 510, 153, "1"),
                       _line(521, 520, 150, "1"), _line(531, 530, 151, "1"),
                       _line(541, 540, 150, "1"), _line(551, 550, 150, "1")],
    )

    fact = build(core, hand_made_dims(), "USD")

    assert fact.schema == SCHEMA
    assert fact.columns == [c.name for c in fct_freight_cost.columns]
    # Columns: shipment line, shipment, number, order, replacement?, date, month and week
    # keys, customer version (10) and id, product key, rep (9 → 3), channel and region keys
    # of the order, freight cost.
    assert fact.rows() == [
        (501, 500, "SHP-500", 100, False, 20250203, 202502, 202506, 10, 1, 50, 3, 1, 3, 643),
        (502, 500, "SHP-500", 100, False, 20250203, 202502, 202506, 10, 1, 60, 3, 1, 3, 357),
        (511, 510, "SHP-510", 100, False, 20250301, 202503, 202509, 10, 1, 50, 3, 1, 3, 2),
        (512, 510, "SHP-510", 100, False, 20250301, 202503, 202509, 10, 1, 60, 3, 1, 3, 3),
        (521, 520, "SHP-520", 100, True, 20250402, 202504, 202514, 10, 1, 50, 3, 1, 3, 400),
    ]


def test_freight_cost_stays_with_the_rep_of_the_order_after_a_reassignment() -> None:
    """Customer 2 moves from rep 7 (NORTH) to rep 8 (SOUTH) on 2025-07-01; an order of May
    shipped in August keeps rep 7, NORTH and the old customer version."""
    core = core_frames(
        CORE_TABLES,
        sales_order=[{"id": 600, "customer_id": 2, "order_date": date(2025, 5, 15),
                      "rep_id": 7, "channel_code": "DIRECT", "region_code": "NORTH"}],
        sales_order_line=[_order_line(650, 600, 5, "1.00")],
        shipment=[_shipment(660, 600, "shipped", date(2025, 8, 20), "12.34")],
        shipment_line=[_line(661, 660, 650, "1")],
    )

    fact = build(core, hand_made_dims(), "USD")

    assert fact.select("customer_key", "rep_key", "region_key", "channel_key",
                       "freight_cost_minor").rows() == [(20, 1, 1, 1, 1234)]


def test_no_shipments_give_an_empty_fact_with_the_mart_dtypes() -> None:
    fact = build(core_frames(CORE_TABLES), hand_made_dims(), "USD")
    assert fact.height == 0
    assert fact.schema == SCHEMA
