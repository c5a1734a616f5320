"""Everything the CLI prints: people's output on stderr, machine output on stdout.

Rich decides colour by TTY detection, so pipes and CI logs get plain text.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.table import Table

from fleetctl.errors import FleetctlError

# Off a TTY (CI logs, pipes) Rich would wrap at 80 columns and cut table
# cells; give it room instead. On a TTY it follows the terminal.
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)


class Format(StrEnum):
    table = "table"
    json = "json"


def emit_json(data: Any) -> None:
    """Stable, indented JSON on stdout (the machine contract)."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A Rich table; columns whose cells are all numbers are right-aligned."""
    rows = [list(r) for r in rows]
    t = Table(title=title, title_justify="left", header_style="bold")
    for i, col in enumerate(columns):
        numeric = bool(rows) and all(
            isinstance(r[i], int | float) and not isinstance(r[i], bool) for r in rows
        )
        t.add_column(col, justify="right" if numeric else "left")
    for row in rows:
        t.add_row(*(str(c) for c in row))
    return t


def error(exc: FleetctlError) -> None:
    err.print(f"[bold red]error:[/] {exc.message}", markup=True)
    for line in exc.details:
        err.print(f"  {line}", markup=False, soft_wrap=True)
    if exc.hint:
        err.print(f"[dim]hint:[/] {exc.hint}", markup=True)


def note(message: str) -> None:
    err.print(message, markup=False)


def ok(message: str) -> None:
    err.print(f"[green]✓[/] {message}", markup=True)
