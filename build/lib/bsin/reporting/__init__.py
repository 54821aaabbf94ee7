"""Reporting: partner and programme reports (data, disclosure, view, charts, rendering)."""
