"""Thin Typer commands: parse flags, call a service, render the result."""
