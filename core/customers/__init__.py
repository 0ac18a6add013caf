"""Customers, their locations, contacts and contact log; credit and hold policy."""
