"""Opportunities, quotes, sales orders and sales targets."""
