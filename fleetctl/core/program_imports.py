"""Which project files a Pulumi program really imports, read from the source.

The preview cache key of a stack covers the program (stacks/**) and the
fleetctl modules it imports, transitively: an edit elsewhere in fleetctl
(a planner, the rollout code) leaves every stack's key and cache alone.
Computed from the import statements of the files themselves (every `import`
anywhere in a file counts, also inside functions and TYPE_CHECKING blocks, and
in strings: too much is safe, too little is not). An import the text does not show
(importlib with a computed name) is caught at run time: the worker reports
the project files a program imported and preview warns about any outside
this set.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

PACKAGE = "fleetctl"

Read = Callable[[str], str | None]  # relative path -> text, None when absent


def module_file(name: str, read: Read) -> str | None:
    """The file of module `name` (dotted) in the project, or None (not ours / absent)."""
    base = name.replace(".", "/")
    for rel in (f"{base}.py", f"{base}/__init__.py"):
        if read(rel) is not None:
            return rel
    return None


def _package_of(rel: str) -> str:
    """The package a file's relative imports start from: its directory."""
    return ".".join(rel.split("/")[:-1])


# `import a.b as c, d` and `from .a import (b, c)`, at a line start or after `;`.
_IMPORT = re.compile(r"(?:^|;)[ \t]*import[ \t]+([^\n;#]+)", re.M)
_FROM = re.compile(
    r"(?:^|;)[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]*(\([^)]*\)|[^\n;#]*)", re.M
)


def imported_modules(rel: str, text: str) -> set[str]:
    """Dotted names a file imports (with `from X import y`, also X.y).

    Read from the text, not a parse: a file is scanned in microseconds, and a
    match inside a string or comment only adds a file to the key (safe).
    """
    text = text.replace("\\\n", " ")  # backslash continuations
    names: set[str] = set()
    for m in _IMPORT.finditer(text):
        for part in m.group(1).split(","):
            name = part.split(" as ")[0].strip()
            if name:
                names.add(name)
    for m in _FROM.finditer(text):
        module = m.group(1)
        level = len(module) - len(module.lstrip("."))
        if level:
            pkg = _package_of(rel).split(".")
            pkg = pkg[: len(pkg) - (level - 1)] if level > 1 else pkg
            rest = module[level:]
            base = ".".join([*pkg, rest] if rest else pkg)
        else:
            base = module
        if not base:
            continue
        names.add(base)
        for part in re.sub(r"#[^\n]*", "", m.group(2)).strip("()").split(","):
            name = part.split(" as ")[0].strip()
            if name.isidentifier():
                names.add(f"{base}.{name}")
    return names


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def import_closure(entries: Iterable[str], read: Read) -> set[str]:
    """Files of the `fleetctl` package that `entries` import, transitively, with the
    `__init__.py` of every package on the way."""
    seen: set[str] = set()
    todo = list(entries)
    found: set[str] = set()
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        text = read(rel)
        if text is None:
            continue
        for name in imported_modules(rel, text):
            if name != PACKAGE and not name.startswith(f"{PACKAGE}."):
                continue
            for mod in _with_parents(name):
                path = module_file(mod, read)
                if path is not None and path not in found:
                    found.add(path)
                    todo.append(path)
    return found


def stack_modules(main: str, read: Read) -> list[str]:
    """The program's own modules under its directory (e.g. `components`,
    `components.edge` from `stacks/__main__.py`), transitively, parents first.

    Only what the entry file really imports (by its source): the fork server
    imports these before forking, so a stray script next to the program is never
    run by a preview.
    """
    base = main.rsplit("/", 1)[0] + "/" if "/" in main else ""
    seen: set[str] = set()
    found: dict[str, None] = {}
    todo = [main]
    while todo:
        rel = todo.pop(0)
        if rel in seen:
            continue
        seen.add(rel)
        text = read(rel)
        if text is None:
            continue
        # Relative to the program's directory, which the program puts first on sys.path.
        for name in sorted(imported_modules(rel[len(base) :], text)):
            for mod in _with_parents(name):
                if mod == PACKAGE or mod.startswith(f"{PACKAGE}."):
                    break
                path = module_file(mod, lambda r: read(base + r))
                if path is not None and mod not in found:
                    found[mod] = None
                    todo.append(base + path)
    return list(found)
