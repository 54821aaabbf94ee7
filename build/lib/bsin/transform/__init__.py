"""Transform: harmonising local-language forms into the canonical schema (mappings, drift)."""
