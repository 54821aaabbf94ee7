"""Ingest: the Google Forms hook and client, the shared API rate limit, pseudonyms and
reconciliation of deleted responses."""
