"""The lab router's region weights on disk (`<lab dir>/traffic.json`).

Written by a region drain, read once by a command that renders the lab's
inventory (`lab up`, a drain): rendering itself gets the weights passed in.
"""

from __future__ import annotations

import json
from pathlib import Path

from fleetctl.errors import OutsideError

TRAFFIC_FILE = "traffic.json"


def read(lab_dir: Path | str) -> dict[str, int] | None:
    """The recorded weights, or None when none are recorded (the spec's apply)."""
    path = Path(lab_dir) / TRAFFIC_FILE
    try:
        data = json.loads(path.read_text())
        return {str(r): int(w) for r, w in data["weights"].items()}
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError, AttributeError, OSError, RecursionError) as exc:
        raise OutsideError(f"unreadable lab traffic state {path}: {exc}") from exc


def write(lab_dir: Path | str, weights: dict[str, int] | None) -> None:
    """Record the weights (None: forget them, back to the spec's)."""
    path = Path(lab_dir) / TRAFFIC_FILE
    if weights is None:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"weights": dict(sorted(weights.items()))}, indent=2) + "\n")
    tmp.replace(path)
