"""Quality: Great Expectations validation, Data Docs and per-country month status."""
