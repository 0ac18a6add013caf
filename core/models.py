"""Imports every mapped class so ``Base.metadata`` is complete (Alembic, create_all)."""

from core.audit import AuditLog
from core.billing.models import (
    Allocation,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    Payment,
)
from core.catalog.models import CustomerPrice, PriceList, PriceListItem, Product
from core.company.models import (
    Channel,
    CompanySettings,
    FxRate,
    PaymentTerms,
    Region,
    Segment,
    TaxCode,
)
from core.customers.models import (
    Contact,
    Customer,
    CustomerContactState,
    Interaction,
    Location,
)
from core.db import Base
from core.fulfilment.models import Rma, RmaLine, Shipment, ShipmentLine
from core.numbering import DocumentSequence
from core.sales.models import (
    Opportunity,
    OrderMilestone,
    Quote,
    QuoteLine,
    SalesOrder,
    SalesOrderLine,
    SalesTarget,
)
from core.users.models import SalesRep, User

__all__ = [
    "Allocation", "AuditLog", "Base", "Channel", "CompanySettings", "Contact", "CreditNote",
    "CreditNoteLine", "Customer", "CustomerContactState", "CustomerPrice", "DocumentSequence",
    "FxRate", "Interaction", "Invoice", "InvoiceLine", "Location", "Opportunity", "OrderMilestone",
    "Payment", "PaymentTerms", "PriceList", "PriceListItem", "Product", "Quote", "QuoteLine",
    "Region", "Rma", "RmaLine", "SalesOrder", "SalesOrderLine", "SalesRep", "SalesTarget",
    "Segment", "Shipment", "ShipmentLine", "TaxCode", "User",
]
