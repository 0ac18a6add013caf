"""Products, price lists and customer prices (deal sheets) with price floors."""
