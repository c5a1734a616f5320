"""Everything the CLI prints: people's output on stderr, machine output on stdout.

Rich decides colour by TTY detection, so pipes and CI logs get plain text.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from fleetctl.errors import FleetctlError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    err: Console
    out: Console

_consoles: dict[str, Console] = {}


def __getattr__(name: str) -> Any:
    if name not in ("err", "out"):
        raise AttributeError(name)
    return _console(name)


def _console(name: str) -> Console:
    """`render.err` / `render.out`, made on first use: importing Rich costs
    ~70 ms that `fleetctl --help` and JSON-only runs need not pay.

    Off a TTY (CI logs, pipes) Rich would wrap at 80 columns and cut table
    cells; give it room instead. On a TTY it follows the terminal.
    """
    if name not in _consoles:
        from rich.console import Console

        stream = sys.stderr if name == "err" else sys.stdout
        _consoles[name] = Console(
            stderr=name == "err", highlight=False, width=None if stream.isatty() else 200
        )
    return _consoles[name]


class Format(StrEnum):
    table = "table"
    json = "json"


class Switch(StrEnum):
    """The action of on/off switches (`freeze`, `drain`)."""

    on = "on"
    off = "off"
    status = "status"


def emit_json(data: Any) -> None:
    """Stable, indented JSON on stdout (the machine contract)."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A Rich table; columns whose cells are all numbers are right-aligned."""
    from rich.table import Table

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


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def error(exc: FleetctlError) -> None:
    # Messages quote what the user or a server gave (paths, URLs, AWS errors):
    # a "[/x]" in them is text, never Rich markup (an unmatched tag raised).
    _console("err").print(f"[bold red]error:[/] {escape(exc.message)}", markup=True)
    for line in exc.details:
        _console("err").print(f"  {line}", markup=False, soft_wrap=True)
    if exc.hint:
        _console("err").print(f"[dim]hint:[/] {escape(exc.hint)}", markup=True)


def note(message: str) -> None:
    _console("err").print(message, markup=False)


def ok(message: str) -> None:
    _console("err").print(f"[green]✓[/] {escape(message)}", markup=True)
