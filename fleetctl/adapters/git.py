"""git, for the base side of a preview: resolve a ref, read its tree, check it out.

Only the plumbing fleetctl needs. A base checkout is a temporary
`git worktree` that is always removed, even when the preview fails.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fleetctl.errors import BadInput, OutsideError


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("git")
    if exe is None:
        raise OutsideError("git is not installed", hint="install git to use --base")
    proc = subprocess.run(
        [exe, "-C", str(root), *args], capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise OutsideError(
            f"git {' '.join(args[:2])} failed", details=proc.stderr.strip().splitlines()[-5:]
        )
    return proc


def repo_root(path: Path) -> Path:
    proc = _git(path, "rev-parse", "--show-toplevel", check=False)
    if proc.returncode != 0:
        raise BadInput(f"{path} is not inside a git repository", hint="--base needs a git checkout")
    return Path(proc.stdout.strip())


def resolve(root: Path, ref: str) -> str:
    """The commit sha of `ref`; BadInput when it does not name a commit."""
    if ref.startswith("-"):
        raise BadInput(f"invalid git ref {ref!r}")
    proc = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if proc.returncode != 0:
        raise BadInput(
            f"unknown git ref {ref!r}",
            hint="pass a branch, tag or commit that exists locally (git fetch origin first)",
        )
    return proc.stdout.strip()


def tree_blobs(root: Path, commit: str, paths: Iterable[str]) -> dict[str, str]:
    """{path relative to the repo root: blob sha} for files under `paths` at `commit`."""
    proc = _git(root, "ls-tree", "-r", "-z", "--full-tree", commit, "--", *paths)
    out: dict[str, str] = {}
    for entry in proc.stdout.split("\0"):
        if not entry:
            continue
        meta, _, path = entry.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == "blob":
            out[path] = parts[2]
    return out


def prefix_in_repo(root: Path, path: Path) -> str:
    """`path` relative to the repository root, as git spells it ('' for the root)."""
    rel = path.resolve().relative_to(root.resolve())
    return "" if str(rel) == "." else rel.as_posix()


def blob_sha(path: Path) -> str:
    """The git blob sha of a working-tree file (what `git hash-object` prints)."""
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@contextmanager
def worktree(root: Path, commit: str) -> Iterator[Path]:
    """A temporary detached checkout of `commit`; removed on exit, whatever happens."""
    tmp = Path(tempfile.mkdtemp(prefix="fleetctl-base-"))
    target = tmp / "checkout"
    proc = _git(root, "worktree", "add", "--detach", "--force", str(target), commit, check=False)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BadInput(
            f"cannot check out {commit[:12]} into a temporary worktree",
            hint="run `git worktree prune` and make sure the ref exists",
            details=proc.stderr.strip().splitlines()[-5:],
        )
    try:
        yield target
    finally:
        _git(root, "worktree", "remove", "--force", str(target), check=False)
        shutil.rmtree(tmp, ignore_errors=True)
        _git(root, "worktree", "prune", check=False)


def show(root: Path, commit: str, path: str) -> str | None:
    """The text of `path` (relative to the repo root) at `commit`; None when absent."""
    proc = _git(root, "show", f"{commit}:{path}", check=False)
    return proc.stdout if proc.returncode == 0 else None


def cat_blobs(root: Path, shas: Iterable[str]) -> dict[str, str]:
    """{blob sha: text} for the given blobs, in one `git cat-file --batch`."""
    wanted = sorted(set(shas))
    if not wanted:
        return {}
    exe = shutil.which("git")
    if exe is None:
        raise OutsideError("git is not installed", hint="install git to use --base")
    proc = subprocess.run(
        [exe, "-C", str(root), "cat-file", "--batch"],
        input="".join(f"{s}\n" for s in wanted).encode(),
        capture_output=True,
        check=False,
    )
    out: dict[str, str] = {}
    data, pos = proc.stdout, 0
    while pos < len(data):
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        pos = end + 1
        if len(header) != 3:  # "<sha> missing"
            continue
        size = int(header[2])
        out[header[0].decode()] = data[pos : pos + size].decode("utf-8", errors="replace")
        pos += size + 1
    return out


def commit_all(root: Path, message: str) -> str:
    """Make `root` a repository (when it is not one) and commit everything in it;
    the commit's sha. For scratch copies (`event plan` previews a patched copy
    of the spec against the copy as it was)."""
    if not (root / ".git").exists():
        _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(
        root,
        "-c",
        "user.name=fleetctl",
        "-c",
        "user.email=fleetctl@localhost.invalid",
        "-c",
        "commit.gpgsign=false",
        "commit",
        "-q",
        "--no-verify",
        "--allow-empty",
        "-m",
        message,
    )
    return resolve(root, "HEAD")
