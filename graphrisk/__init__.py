"""graphrisk."""
