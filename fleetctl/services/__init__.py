"""Use cases: combine core logic and adapters; no Typer, no Rich."""
