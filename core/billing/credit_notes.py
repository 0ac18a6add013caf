"""Credit notes: returns and price adjustments against invoice lines, settlement discounts
and bad-debt write-offs against an invoice's open amount, or standalone credits.

A credit note against an invoice uses the invoice's exchange rate and is applied to that
invoice on posting (up to its open amount; any rest stays as open credit). A restocked
return reverses the line's cost, fixed at shipment. Numbers are gapless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.access import get_customer_for
from core.actor import FINANCE_ROLES, Actor
from core.billing.allocation import apply_credit
from core.billing.amounts import DraftLine, line_amounts, totals
from core.billing.balances import invoice_open_amount
from core.billing.models import (
    CreditNote,
    CreditNoteLine,
    CreditReason,
    DocumentStatus,
    Invoice,
    InvoiceLine,
)
from core.company.models import TaxCode
from core.company.services import fx_rate, get_settings
from core.db import utcnow
from core.errors import InvalidInput
from core.numbering import DocType, next_number
from core.types import ZERO, round_money

AGAINST_OPEN_AMOUNT = frozenset({CreditReason.SETTLEMENT_DISCOUNT, CreditReason.BAD_DEBT})


@dataclass(frozen=True)
class CreditLineInput:
    """A credited line: ``quantity`` of an invoice line (returns), or an ``amount`` net of
    tax with a description and tax code (adjustments, discounts, write-offs)."""

    invoice_line_id: int | None = None
    quantity: Decimal | None = None
    amount: Decimal | None = None
    description: str | None = None
    tax_code: str = "ZERO"
    restock: bool = False


def credited_quantity(session: Session, invoice_line_id: int) -> Decimal:
    """Quantity of an invoice line already credited on posted credit notes."""
    return Decimal(session.scalar(
        select(func.coalesce(func.sum(CreditNoteLine.quantity), 0))
        .join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id)
        .where(CreditNoteLine.invoice_line_id == invoice_line_id,
               CreditNote.status == DocumentStatus.POSTED,
               CreditNote.reason == CreditReason.RETURN)
    ) or 0)


def issue_credit_note(session: Session, actor: Actor, customer_id: int, *,
                      reason: CreditReason, credit_date: date, lines: list[CreditLineInput],
                      invoice_id: int | None = None, rma_id: int | None = None) -> CreditNote:
    """Create and post a credit note (finance)."""
    customer = get_customer_for(session, actor, customer_id, FINANCE_ROLES, "issue credit notes")
    reason = CreditReason(reason)
    if not lines:
        raise InvalidInput("a credit note needs at least one line", field="lines")
    invoice = None
    if invoice_id is not None:
        invoice = session.get(Invoice, invoice_id)
        if invoice is None or invoice.customer_id != customer.id \
                or invoice.status != DocumentStatus.POSTED:
            raise InvalidInput(f"invoice #{invoice_id} is not a posted invoice of {customer.ref}",
                               field="invoice_id")
        if credit_date < invoice.invoice_date:
            raise InvalidInput("a credit note cannot predate its invoice", field="credit_date")
    elif reason in AGAINST_OPEN_AMOUNT or reason == CreditReason.RETURN:
        raise InvalidInput(f"a {reason.value.replace('_', ' ')} credit needs an invoice",
                           field="invoice_id")
    currency = customer.currency
    rate = invoice.fx_rate if invoice else fx_rate(session, currency, credit_date)
    base_currency = get_settings(session).base_currency
    drafts = [_draft_line(session, invoice, line, reason, currency, base_currency)
              for line in lines]
    amounts = line_amounts([d.amount for d in drafts], [d.tax_rate for d in drafts],
                           discount=ZERO, freight=ZERO, currency=currency, rate=rate,
                           base_currency=base_currency)
    head = totals(amounts)
    if invoice is not None and reason in AGAINST_OPEN_AMOUNT:
        open_amount = invoice_open_amount(session, invoice)
        if head.total > open_amount:
            raise InvalidInput(f"{head.total} exceeds the open amount {open_amount} of "
                               f"{invoice.number}", field="lines")
    note = CreditNote(
        customer_id=customer.id, invoice_id=invoice_id, rma_id=rma_id, reason=reason,
        status=DocumentStatus.DRAFT, credit_date=credit_date, currency=currency, fx_rate=rate,
        net_amount=head.net, tax_amount=head.tax, total_amount=head.total,
        base_total_amount=head.base_total,
    )
    for i, (d, a) in enumerate(zip(drafts, amounts, strict=True), start=1):
        note.lines.append(CreditNoteLine(
            line_no=i, invoice_line_id=d.invoice_line_id, product_id=d.product_id,
            description=d.description, quantity=d.quantity, unit_price=d.unit_price,
            net_amount=a.net, tax_code=d.tax_code, tax_rate=d.tax_rate, tax_amount=a.tax,
            is_restock=d.restock, unit_cost=d.unit_cost, cost_amount=d.cost_amount,
            base_net_amount=a.base_net, base_tax_amount=a.base_tax,
        ))
    session.add(note)
    session.flush()
    note.number = next_number(session, DocType.CREDIT_NOTE)
    note.status = DocumentStatus.POSTED
    note.posted_at = utcnow()
    session.flush()
    if invoice is not None:
        apply_credit(session, payment=None, credit_note=note, invoice=invoice,
                     amount=note.total_amount, on=credit_date, cap_to_open=True)
    return note


def credited_net(session: Session, invoice_line_id: int) -> Decimal:
    """Net amount of an invoice line already credited on posted credit notes (any reason)."""
    return Decimal(session.scalar(
        select(func.coalesce(func.sum(CreditNoteLine.net_amount), 0))
        .join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id)
        .where(CreditNoteLine.invoice_line_id == invoice_line_id,
               CreditNote.status == DocumentStatus.POSTED)
    ) or 0)


def _draft_line(session: Session, invoice: Invoice | None, line: CreditLineInput,
                reason: CreditReason, currency: str, base_currency: str) -> DraftLine:
    if line.invoice_line_id is not None:
        return _line_credit(session, invoice, line, reason, currency, base_currency)
    if line.amount is None or Decimal(line.amount) <= 0:
        raise InvalidInput("a credited amount must be positive", field="amount")
    if not (line.description or "").strip():
        raise InvalidInput("describe the credited amount", field="description")
    tax = session.get(TaxCode, line.tax_code)
    if tax is None:
        raise InvalidInput(f"unknown tax code {line.tax_code!r}", field="tax_code")
    net = round_money(Decimal(line.amount), currency)
    return DraftLine(description=line.description or "", quantity=Decimal(1), unit_price=net,
                     amount=net, tax_code=tax.code, tax_rate=tax.rate)


def _line_credit(session: Session, invoice: Invoice | None, line: CreditLineInput,
                 reason: CreditReason, currency: str, base_currency: str) -> DraftLine:
    """Credit against one invoice line, never more than what is left of its net amount.

    A return credits the returned share of the line; the return that completes the line
    takes whatever is left, so partial returns add up to the line exactly.
    """
    source = session.get(InvoiceLine, line.invoice_line_id)
    if source is None or invoice is None or source.invoice_id != invoice.id:
        raise InvalidInput(f"line #{line.invoice_line_id} is not on the invoice",
                           field="invoice_line_id")
    left = source.net_amount - credited_net(session, source.id)
    quantity = Decimal(line.quantity if line.quantity is not None else source.quantity)
    restock = False
    if reason == CreditReason.RETURN:
        returnable = source.quantity - credited_quantity(session, source.id)
        if quantity <= 0 or quantity > returnable:
            raise InvalidInput(f"line {source.line_no}: return between 0 and {returnable}",
                               field="quantity")
        net = left if quantity == returnable else min(
            left, round_money(source.net_amount * quantity / source.quantity, currency))
        restock = line.restock
    else:
        net = round_money(Decimal(line.amount or 0), currency)
        if not ZERO < net <= left:
            raise InvalidInput(
                f"line {source.line_no}: credit between 0 and {round_money(left, currency)}",
                field="amount")
    return DraftLine(
        invoice_line_id=source.id, product_id=source.product_id,
        description=line.description or source.description, quantity=quantity,
        unit_price=(net / quantity).quantize(Decimal("0.0001")), amount=net,
        tax_code=source.tax_code, tax_rate=source.tax_rate, restock=restock,
        unit_cost=source.unit_cost,
        cost_amount=round_money(quantity * source.unit_cost, base_currency) if restock else ZERO,
    )
