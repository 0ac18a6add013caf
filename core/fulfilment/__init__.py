"""Shipments (delivery order → picked → packed → shipped) and RMAs."""
