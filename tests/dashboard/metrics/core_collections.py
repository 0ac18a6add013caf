"""The collections worklist computed straight from the core's invoices and allocations —
the independent side of the worklist tests (no mart, no Polars): open, overdue, undisputed
invoices as of a date, each customer's risk of paying late from its allocations (the rule
of ``dashboard.metrics.collections``, in exact fractions) and the score.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.billing.models import Allocation, Invoice, Payment
from core.company.services import end_of_day_utc
from core.customers.models import Customer
from core.types import round_money, to_minor
from tests.dashboard.metrics.core_receivables import BASE, core_open_items


@dataclass(frozen=True)
class CoreHistory:
    """A customer's cash applied to its credit invoices, from the core (base cents)."""

    paid: int = 0
    late: int = 0
    invoices: int = 0


def core_risk(session: Session, as_of: date) -> dict[int, Fraction]:
    """Every customer's risk of paying late from the core's allocations (module rule of
    ``dashboard.metrics.collections``), exact."""
    per_invoice: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    rows = session.execute(
        select(Allocation.amount, Invoice.id, Invoice.customer_id, Invoice.fx_rate,
               Invoice.due_date, Payment.received_date)
        .join(Invoice, Invoice.id == Allocation.target_invoice_id)
        .join(Payment, Payment.id == Allocation.source_payment_id)
        .where(Allocation.allocation_date <= as_of, Invoice.is_cash_sale.is_(False)))
    for amount, invoice_id, customer_id, rate, due, received in rows:
        base = to_minor(round_money(amount * rate, BASE), BASE)
        sums = per_invoice[customer_id, invoice_id]
        sums[0] += base
        sums[1] += base if (received - due).days > 0 else 0
    history: dict[int, CoreHistory] = defaultdict(CoreHistory)
    for (customer_id, _), (paid, late) in per_invoice.items():
        was = history[customer_id]
        history[customer_id] = CoreHistory(was.paid + paid, was.late + late,
                                           was.invoices + (paid > 0))
    segments = {customer_id: segment for customer_id, segment
                in session.execute(select(Customer.id, Customer.segment_code))}
    pools: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])
    for customer_id, segment in segments.items():
        for pool in {segment, "(all)"}:
            pools[pool][0] += history[customer_id].paid
            pools[pool][1] += history[customer_id].late
    risks = {}
    for customer_id, segment in segments.items():
        paid, late = pools[segment] if segment and pools[segment][0] > 0 else pools["(all)"]
        prior = Fraction(late, paid)
        own = history[customer_id]
        n = own.invoices
        risks[customer_id] = prior if n == 0 else (
            Fraction(n, n + 5) * Fraction(own.late, own.paid) + Fraction(5, n + 5) * prior)
    return risks


def _half_up(value: Fraction) -> int:
    """``value`` rounded half up (the values here are not negative)."""
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)


@dataclass(frozen=True)
class Expected:
    """One row of the worklist, from the core."""

    invoice_id: int
    customer_id: int
    days_overdue: int
    open_minor: int
    risk_ppm: int

    @property
    def score_minor(self) -> int:
        return _half_up(Fraction(self.open_minor * self.risk_ppm, 1_000_000))


def core_worklist(session: Session, as_of: date) -> list[Expected]:
    """The worklist as of ``as_of``, ranked like the metric."""
    items = core_open_items(session, as_of, end_of_day_utc(session, as_of))
    risk = core_risk(session, as_of)
    rows = [Expected(item.document_id, item.customer_id, (as_of - item.due_date).days,
                     item.open_minor, _half_up(risk[item.customer_id] * 1_000_000))
            for item in items
            if item.kind == "invoice" and item.open_minor > 0 and not item.is_disputed
            and item.due_date is not None and item.due_date < as_of
            and item.document_id is not None]
    return sorted(rows, key=lambda e: (-e.score_minor, -e.days_overdue, e.invoice_id))


