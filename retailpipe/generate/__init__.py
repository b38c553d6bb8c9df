"""Synthetic point-of-sale data: stores, products, daily receipts and a truth manifest."""
