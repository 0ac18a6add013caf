"""The demo generator bypasses the services, so its data must satisfy the core invariants:
allocations within open amounts, gapless numbering, totals = Σ lines to the cent, line
arithmetic, attribution rules, holds, and determinism. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import psycopg
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from core.audit import set_actor
from core.billing.models import Invoice, InvoiceLine
from core.customers.models import Customer
from core.db import make_engine, make_session_factory
from core.demo import generate_demo
from core.demo.load import load_frames
from core.demo.money import prorate as prorate_vectorised
from core.errors import DomainError
from core.models import Base
from core.numbering import DocType, next_number
from core.types import prorate, round_money
from tests.conftest import PG_URL, drop_pg_schema, new_pg_schema, seed_company
from tests.core.contact_log import derived_states, kept_states

END = date(2025, 6, 30)
CUSTOMERS, LINES, SEED = 300, 20_000, 7


@pytest.fixture(scope="module")
def demo(dialect: str, tmp_path_factory: pytest.TempPathFactory,
         request: pytest.FixtureRequest) -> Iterator[Engine]:
    """One generated database per dialect, shared by the read-only checks below
    (a fresh ``isolated_engine`` per check would regenerate it every time)."""
    if dialect == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}")
        schema = None
    else:
        admin = request.getfixturevalue("pg_admin_engine")
        schema = new_pg_schema(admin)
        engine = make_engine(PG_URL, schema=schema)
    seed_company(engine)
    generate_demo(engine, customers=CUSTOMERS, lines=LINES, seed=SEED, end_date=END)
    yield engine
    engine.dispose()
    if schema:
        drop_pg_schema(request.getfixturevalue("pg_admin_engine"), schema)


def scalar(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one() or 0)


def rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_invoice_lines_close_to_requested(demo: Engine) -> None:
    n = scalar(demo, "SELECT count(*) FROM invoice_line")
    assert abs(n - LINES) / LINES < 0.05


def test_every_generated_table_has_rows(demo: Engine) -> None:
    expected_empty = {"order_milestone"}
    for table in Base.metadata.sorted_tables:
        if table.name not in expected_empty:
            assert scalar(demo, f'SELECT count(*) FROM "{table.name}"') > 0, table.name  # noqa: S608


def test_every_customer_with_interactions_has_its_contact_state(demo: Engine) -> None:
    with demo.connect() as conn:
        kept = kept_states(conn)
        assert kept == derived_states(conn)
    assert len(kept) == scalar(demo, "SELECT count(DISTINCT customer_id) FROM interaction")


def test_a_postgresql_load_is_vacuumed(demo: Engine) -> None:
    """Index-only scans need the visibility map that VACUUM sets after a bulk load."""
    if demo.dialect.name != "postgresql":
        return  # SQLite has no visibility map
    unvacuumed = rows(demo, "SELECT relname FROM pg_stat_user_tables "
                            "WHERE schemaname = current_schema() AND last_vacuum IS NULL "
                            "AND relname IN ('invoice', 'interaction', 'customer_contact_state')")
    assert unvacuumed == []


def test_allocations_never_exceed_open_amounts(demo: Engine) -> None:
    assert scalar(demo, "SELECT count(*) FROM allocation WHERE amount <= 0") == 0
    # per invoice, at every allocation date (running sum in date order)
    assert scalar(demo, """
        SELECT count(*) FROM (
          SELECT a.target_invoice_id, i.total_amount,
                 SUM(a.amount) OVER (PARTITION BY a.target_invoice_id
                                     ORDER BY a.allocation_date, a.id) AS running
          FROM allocation a JOIN invoice i ON i.id = a.target_invoice_id) x
        WHERE running > total_amount""") == 0
    assert scalar(demo, """
        SELECT count(*) FROM payment p JOIN (
          SELECT source_payment_id, SUM(amount) s FROM allocation
          WHERE source_payment_id IS NOT NULL GROUP BY source_payment_id) a
          ON a.source_payment_id = p.id
        WHERE a.s > p.amount OR p.kind <> 'receipt'""") == 0
    assert scalar(demo, """
        SELECT count(*) FROM payment p JOIN (
          SELECT target_payment_id, SUM(amount) s FROM allocation
          WHERE target_payment_id IS NOT NULL GROUP BY target_payment_id) a
          ON a.target_payment_id = p.id
        WHERE a.s > p.amount OR p.kind <> 'refund'""") == 0
    assert scalar(demo, """
        SELECT count(*) FROM credit_note c JOIN (
          SELECT source_credit_note_id, SUM(amount) s FROM allocation
          WHERE source_credit_note_id IS NOT NULL GROUP BY source_credit_note_id) a
          ON a.source_credit_note_id = c.id
        WHERE a.s > c.total_amount""") == 0
    # open items of every kind exist: open invoices, unapplied cash, open credits
    assert scalar(demo, """SELECT count(*) FROM invoice i WHERE i.total_amount >
        (SELECT COALESCE(SUM(amount), 0) FROM allocation a WHERE a.target_invoice_id = i.id)""")
    assert scalar(demo, """SELECT count(*) FROM payment p WHERE p.kind = 'receipt' AND p.amount >
        (SELECT COALESCE(SUM(amount), 0) FROM allocation a WHERE a.source_payment_id = p.id)""")
    assert scalar(demo, "SELECT count(*) FROM credit_note WHERE invoice_id IS NULL")


@pytest.mark.parametrize("table,doc_type,prefix", [("invoice", "invoice", "INV"),
                                                   ("credit_note", "credit_note", "CN")])
def test_gapless_series_in_posting_order(demo: Engine, table: str, doc_type: str,
                                         prefix: str) -> None:
    numbers = [r[0] for r in rows(demo, f"SELECT number FROM {table} ORDER BY posted_at, id")]  # noqa: S608
    assert numbers == [f"{prefix}{i:07d}" for i in range(1, len(numbers) + 1)]
    last = scalar(demo, f"SELECT last_value FROM document_sequence WHERE doc_type = '{doc_type}'")  # noqa: S608
    assert last == len(numbers)


@pytest.mark.parametrize("table,column", [
    ("customer", "ref"), ("opportunity", "number"), ("quote", "number"),
    ("sales_order", "number"), ("shipment", "number"), ("payment", "number"), ("rma", "number"),
])
def test_other_series_unique_and_continued(demo: Engine, table: str, column: str) -> None:
    total = scalar(demo, f"SELECT count(*) FROM {table}")  # noqa: S608
    assert scalar(demo, f"SELECT count(DISTINCT {column}) FROM {table}") == total  # noqa: S608


def test_header_totals_equal_sum_of_lines(demo: Engine) -> None:
    assert scalar(demo, """
        SELECT count(*) FROM invoice i JOIN (
          SELECT invoice_id, SUM(net_amount) n, SUM(tax_amount) t, SUM(freight_amount) f,
                 SUM(base_net_amount + base_tax_amount + base_freight_amount) b
          FROM invoice_line GROUP BY invoice_id) l ON l.invoice_id = i.id
        WHERE i.net_amount <> l.n OR i.tax_amount <> l.t OR i.freight_charged <> l.f
           OR i.total_amount <> l.n + l.t + i.freight_charged OR i.base_total_amount <> l.b""") == 0
    assert scalar(demo, """
        SELECT count(*) FROM credit_note c JOIN (
          SELECT credit_note_id, SUM(net_amount) n, SUM(tax_amount) t,
                 SUM(base_net_amount + base_tax_amount) b
          FROM credit_note_line GROUP BY credit_note_id) l ON l.credit_note_id = c.id
        WHERE c.net_amount <> l.n OR c.tax_amount <> l.t OR c.total_amount <> l.n + l.t
           OR c.base_total_amount <> l.b""") == 0
    assert scalar(demo, """
        SELECT count(*) FROM sales_order o JOIN (
          SELECT order_id, SUM(net_amount) n FROM sales_order_line GROUP BY order_id) l
          ON l.order_id = o.id
        WHERE o.net_amount <> l.n - o.discount_amount""") == 0
    assert scalar(demo, """
        SELECT count(*) FROM quote q JOIN (
          SELECT quote_id, SUM(net_amount) n FROM quote_line GROUP BY quote_id) l
          ON l.quote_id = q.id
        WHERE q.net_amount <> l.n OR q.total_amount <> q.net_amount + q.tax_amount""") == 0
    # every invoice carries lines, and no invoice invoices more than was shipped
    assert scalar(demo, "SELECT count(*) FROM invoice WHERE id NOT IN "
                        "(SELECT invoice_id FROM invoice_line)") == 0


def test_order_discount_spread_over_its_invoices(demo: Engine) -> None:
    """Invoices share the order discount; an order invoiced in full (nothing cancelled) has
    used all of it, and no order ever uses more."""
    assert scalar(demo, """
        SELECT count(*) FROM sales_order o
        JOIN (SELECT order_id, SUM(discount_amount) d FROM invoice GROUP BY order_id) i
          ON i.order_id = o.id
        JOIN (SELECT order_id, SUM(quantity) q FROM sales_order_line
              GROUP BY order_id) l ON l.order_id = o.id
        JOIN (SELECT v.order_id, SUM(il.quantity) q FROM invoice_line il
              JOIN invoice v ON v.id = il.invoice_id GROUP BY v.order_id) b
          ON b.order_id = o.id
        WHERE i.d > o.discount_amount OR (b.q = l.q AND i.d <> o.discount_amount)""") == 0
    assert scalar(demo, "SELECT count(*) FROM invoice WHERE discount_amount > 0")


def test_invoice_line_arithmetic_matches_core_rounding(demo: Engine) -> None:
    """Recompute every invoice line with Decimal and ``core.types`` (half-up, pro-rating
    with the remainder on the largest line) and compare to the cent."""
    with Session(demo) as session:
        invoices = {i.id: i for i in session.scalars(select(Invoice))}
        lines: dict[int, list[InvoiceLine]] = defaultdict(list)
        for line in session.scalars(select(InvoiceLine).order_by(InvoiceLine.invoice_id,
                                                                 InvoiceLine.line_no)):
            lines[line.invoice_id].append(line)
        for invoice_id, inv_lines in lines.items():
            inv = invoices[invoice_id]
            cur = inv.currency
            amounts = [round_money(x.quantity * x.unit_price * (1 - x.discount_pct), cur)
                       for x in inv_lines]
            assert [x.line_amount for x in inv_lines] == amounts
            discounts = prorate(inv.discount_amount, amounts, cur)
            freights = prorate(inv.freight_charged, amounts, cur)
            for x, disc, fr in zip(inv_lines, discounts, freights, strict=True):
                assert x.doc_discount_amount == disc
                assert x.freight_amount == fr
                assert x.net_amount == x.line_amount - disc
                assert x.tax_amount == round_money(x.net_amount * x.tax_rate, cur)
                assert x.cost_amount == round_money(x.quantity * x.unit_cost, "USD")
                assert x.base_net_amount == round_money(x.net_amount * inv.fx_rate, "USD")
                assert x.base_tax_amount == round_money(x.tax_amount * inv.fx_rate, "USD")
                assert x.base_freight_amount == round_money(x.freight_amount * inv.fx_rate,
                                                            "USD")


def test_order_lines_and_payments_round_half_up(demo: Engine) -> None:
    for qty, price, disc, net in rows(demo, "SELECT quantity, unit_price, discount_pct, "
                                            "net_amount FROM sales_order_line"):
        if demo.dialect.name == "sqlite":  # raw scaled integers
            qty, price, disc, net = (Decimal(qty).scaleb(-4), Decimal(price).scaleb(-4),
                                     Decimal(disc).scaleb(-4), Decimal(net).scaleb(-3))
        assert round_money(Decimal(qty) * Decimal(price) * (1 - Decimal(disc)), "USD") == net
    from core.billing.models import Payment
    with Session(demo) as session:
        for p in session.scalars(select(Payment)):
            assert p.base_amount == round_money(p.amount * p.fx_rate, "USD")


def test_due_dates_follow_terms(demo: Engine) -> None:
    with Session(demo) as session:
        terms = dict(rows(demo, "SELECT code, net_days FROM payment_terms"))
        for inv in session.scalars(select(Invoice)):
            assert (inv.due_date - inv.invoice_date).days == terms[inv.terms_code]


def test_no_order_confirmed_after_a_hard_hold(demo: Engine) -> None:
    held = """
        SELECT c.id, a.occurred_at FROM customer c JOIN audit_log a
          ON a.entity = 'customer' AND a.entity_id = c.id AND a.field = 'hold_state'
        WHERE c.hold_state = 'on_hold' AND c.hold_policy = 'allow_nothing'"""
    assert rows(demo, held)
    assert scalar(demo, f"""
        SELECT count(*) FROM sales_order o JOIN ({held}) h ON h.id = o.customer_id
        WHERE o.confirmed_at IS NOT NULL AND o.confirmed_at > h.occurred_at""") == 0  # noqa: S608
    assert scalar(demo, "SELECT count(DISTINCT hold_policy) FROM customer "
                        "WHERE hold_state = 'on_hold'") == 3


def test_rma_types_states_and_credit_reasons_all_present(demo: Engine) -> None:
    assert {r[0] for r in rows(demo, "SELECT DISTINCT rma_type FROM rma")} == {
        "refund_only", "return_and_refund", "return_without_refund", "repair", "replacement",
        "reject"}
    assert {r[0] for r in rows(demo, "SELECT DISTINCT state FROM rma")} == {
        "requested", "received", "inspected", "resolved"}
    assert {r[0] for r in rows(demo, "SELECT DISTINCT reason FROM credit_note")} == {
        "return", "price_adjustment", "settlement_discount", "bad_debt"}
    assert scalar(demo, """SELECT count(*) FROM credit_note c JOIN rma r ON r.id = c.rma_id
                           WHERE r.rma_type = 'return_and_refund' AND r.state = 'resolved'""")
    assert scalar(demo, """SELECT count(*) FROM rma r JOIN shipment s
                             ON s.id = r.replacement_shipment_id
                           WHERE s.is_replacement AND r.rma_type = 'replacement'""")


def test_attribution_fixed_at_confirmation(demo: Engine) -> None:
    """Rep = ship-to override, else the account manager at the order date; region =
    ship-to region, else the customer's. Reassigned customers' old orders keep the old rep."""
    changes = {r[0]: (int(r[1]), int(r[2]), r[3]) for r in rows(demo, """
        SELECT entity_id, old_value, new_value, occurred_at FROM audit_log
        WHERE entity = 'customer' AND field = 'account_manager_id'""")}
    assert changes
    orders = rows(demo, """
        SELECT o.customer_id, o.rep_id, o.region_code, o.confirmed_at, l.rep_override_id,
               l.region_code, c.account_manager_id, c.region_code
        FROM sales_order o JOIN customer c ON c.id = o.customer_id
        JOIN customer_location l ON l.id = o.ship_to_id
        WHERE o.status <> 'draft'""")
    kept_old = 0
    for cust, rep, region, confirmed, override, loc_region, manager, cust_region in orders:
        expected = manager
        if cust in changes:
            old, new, at = changes[cust]
            assert new == manager
            if str(confirmed) < str(at):
                expected = old
                kept_old += override is None
        assert rep == (override or expected)
        assert region == (loc_region or cust_region)
    assert kept_old > 0


def test_some_customers_never_ordered(demo: Engine) -> None:
    assert scalar(demo, "SELECT count(*) FROM customer WHERE id NOT IN "
                        "(SELECT customer_id FROM sales_order)") >= 1


def test_win_rate_is_realistic(demo: Engine) -> None:
    won = scalar(demo, "SELECT count(*) FROM opportunity WHERE state = 'won'")
    lost = scalar(demo, "SELECT count(*) FROM opportunity WHERE state = 'lost'")
    assert 0.15 <= won / (won + lost) <= 0.4


def test_history_in_seq_order(demo: Engine) -> None:
    stamps = [r[0] for r in rows(demo, "SELECT occurred_at FROM audit_log "
                                       "WHERE actor = 'demo' ORDER BY seq")]
    assert stamps == sorted(stamps)
    fields = {r[0] for r in rows(demo, "SELECT DISTINCT entity || '.' || COALESCE(field, '') "
                                       "FROM audit_log WHERE actor = 'demo'")}
    assert {"opportunity.stage", "opportunity.amount", "quote.status",
            "customer.account_manager_id", "sales_order_line.quantity",
            "sales_order.status"} <= fields


def test_demo_refuses_database_with_customers(isolated_engine: Engine) -> None:
    generate_demo(isolated_engine, customers=30, lines=1000, seed=1, end_date=END)
    with pytest.raises(DomainError, match="already has customers"):
        generate_demo(isolated_engine, customers=30, lines=1000, seed=1, end_date=END)


def test_orm_inserts_and_numbering_continue_after_load(isolated_engine: Engine) -> None:
    summary = generate_demo(isolated_engine, customers=30, lines=1000, seed=2, end_date=END)
    factory = make_session_factory(isolated_engine)
    with factory() as session, session.begin():
        set_actor(session, "test")
        customer = Customer(ref="NEW1", name="New Co", currency="USD", terms_code="NET30",
                            credit_limit=Decimal(1000))
        session.add(customer)
        session.flush()
        assert customer.id == summary.rows["customer"] + 1
        assert next_number(session, DocType.INVOICE) == \
            f"INV{summary.rows['invoice'] + 1:07d}"
    logins = {r[0] for r in rows(isolated_engine, "SELECT username FROM app_user")}
    assert logins == {"rep", "manager", "finance", "exec", "admin"}


FINGERPRINT_QUERIES = [
    "SELECT * FROM invoice_line ORDER BY id",
    "SELECT * FROM allocation ORDER BY id",
    "SELECT id, ref, name, account_manager_id, hold_state, credit_limit FROM customer ORDER BY id",
    "SELECT seq, occurred_at, entity, entity_id, field, old_value, new_value FROM audit_log "
    "WHERE actor = 'demo' AND entity <> 'app_user' ORDER BY seq",
]


def _fingerprint(path: Path, seed: int) -> str:
    """Hash of generated rows (the demo logins' audit rows carry the wall clock)."""
    engine = make_engine(f"sqlite:///{path}")
    seed_company(engine)
    generate_demo(engine, customers=60, lines=3000, seed=seed, end_date=END)
    digest = hashlib.sha256()
    for query in FINGERPRINT_QUERIES:
        for row in rows(engine, query):
            digest.update(repr(row).encode())
    engine.dispose()
    return digest.hexdigest()


def test_same_seed_same_data(tmp_path: Path) -> None:
    first = _fingerprint(tmp_path / "a.db", seed=11)
    assert first == _fingerprint(tmp_path / "b.db", seed=11)
    assert first != _fingerprint(tmp_path / "c.db", seed=12)


def test_bulk_load_refuses_dangling_foreign_keys(isolated_engine: Engine) -> None:
    orphan = pl.DataFrame({"id": [1], "customer_id": [999], "name": ["Nobody"],
                           "role": ["other"]})
    with pytest.raises((ValueError, sqlite3.IntegrityError, psycopg.errors.IntegrityError)):
        load_frames(isolated_engine, {"contact": orphan})
    assert scalar(isolated_engine, "SELECT count(*) FROM contact") == 0


def test_vectorised_prorate_matches_core() -> None:
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 6, 2000)
    group = np.repeat(np.arange(sizes.size), sizes)
    weights = rng.choice([0, 1, 7, 333, 10_000, 99_999], group.size)
    totals = rng.integers(0, 50_000, sizes.size)
    shares = prorate_vectorised(group, weights, totals)
    start = 0
    for g, size in enumerate(sizes):
        w = [Decimal(int(x)).scaleb(-2) for x in weights[start:start + size]]
        expected = prorate(Decimal(int(totals[g])).scaleb(-2), w, "USD")
        assert [Decimal(int(x)).scaleb(-2) for x in shares[start:start + size]] == expected
        start += size
