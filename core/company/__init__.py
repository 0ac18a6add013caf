"""Company settings and reference data: base currency, fiscal year, FX rates, tax, terms."""
