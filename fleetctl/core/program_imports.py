"""Which project files a Pulumi program really imports, read from the source.

The preview cache key of a stack covers the program (stacks/**) and the
fleetctl modules it imports, transitively: an edit elsewhere in fleetctl
(a planner, the rollout code) leaves every stack's key and cache alone.
Computed from the import statements of the files themselves (every `import`
anywhere in a file counts, also inside functions and TYPE_CHECKING blocks:
too much is safe, too little is not). An import the text does not show
(importlib with a computed name) is caught at run time: the worker reports
the project files a program imported and preview warns about any outside
this set.
"""

from __future__ import annotations

import ast
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


def imported_modules(rel: str, text: str) -> set[str] | None:
    """Dotted names a file imports (with `from X import y`, also X.y); None if unparsable."""
    try:
        tree = ast.parse(text, filename=rel)
    except (SyntaxError, ValueError):
        return None
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = _package_of(rel).split(".")
                pkg = pkg[: len(pkg) - (node.level - 1)] if node.level > 1 else pkg
                base = ".".join([*pkg, node.module] if node.module else pkg)
            else:
                base = node.module or ""
            if base:
                names.add(base)
                names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def import_closure(entries: Iterable[str], read: Read, all_files: Iterable[str]) -> set[str]:
    """Files of the `fleetctl` package that `entries` import, transitively, with the
    `__init__.py` of every package on the way. A file that does not parse makes
    the answer every file of the package (`all_files`): safe, never too small."""
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
        names = imported_modules(rel, text)
        if names is None:
            return {f for f in all_files if f.startswith(f"{PACKAGE}/")}
        for name in names:
            if name != PACKAGE and not name.startswith(f"{PACKAGE}."):
                continue
            for mod in _with_parents(name):
                path = module_file(mod, read)
                if path is not None and path not in found:
                    found.add(path)
                    todo.append(path)
    return found
