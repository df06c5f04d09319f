"""Event store: the append-only source of truth (ports and adapters)."""
