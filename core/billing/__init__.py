"""Invoices, credit notes, payments, allocations and customer statements."""
