"""Delivery: partner emails over SMTP exactly once, approval, addresses and staff alerts."""
