"""The preview cache key of a stack: it changes with everything the stack's
program really runs (stacks/**, the fleetctl modules the program imports,
transitively, the stack's config, the fleetctl version, the fingerprint key)
and with nothing else (an edit to a fleetctl module the program does not
import keeps every stack's cached preview)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from fleetctl.core.program_imports import import_closure
from fleetctl.services import preview as svc
from tests.gitrepo import git

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
STACK = "prod-us-east-1"
OTHER = "prod-eu-west-1"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    shutil.copytree(REPO / "stacks", root / "stacks", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        REPO / "fleetctl", root / "fleetctl", ignore=shutil.ignore_patterns("__pycache__")
    )
    return root


def keys(root: Path, key_id: str = "k1") -> dict[str, str | None]:
    blobs = svc._head_program(root).blobs
    return {s: svc.stack_key(blobs, s, key_id) for s in (STACK, OTHER)}


def append(root: Path, rel: str, text: str = "\n# edited\n") -> None:
    path = root / rel
    path.write_text(path.read_text() + text)


def test_the_program_imports_naming_and_the_spec_package_not_the_rest(project: Path) -> None:
    files = svc._head_program(project).blobs
    for rel in (
        "fleetctl/__init__.py",
        "fleetctl/errors.py",
        "fleetctl/spec/naming.py",  # stacks/__main__.py: from fleetctl.spec import naming
        "fleetctl/spec/__init__.py",
        "fleetctl/spec/loader.py",  # through fleetctl/spec/__init__.py
        "fleetctl/spec/models.py",
        "fleetctl/spec/regions.py",  # through models.py: transitive
        "stacks/components/edge.py",
        "stacks/Pulumi.yaml",
    ):
        assert rel in files, rel
    for rel in ("fleetctl/core/planner.py", "fleetctl/core/diff.py", "fleetctl/cli/main.py"):
        assert rel not in files, rel
    # What the program needs lives next to the spec: no core module is in the key.
    assert not [rel for rel in files if rel.startswith("fleetctl/core/")]


@pytest.mark.parametrize(
    "change",
    [
        "fleetctl/spec/naming.py",  # imported directly
        "fleetctl/spec/regions.py",  # imported through models.py
        "fleetctl/spec/parse_cache.py",  # through loader.py
        "fleetctl/spec/__init__.py",  # a package on the way
        "fleetctl/__init__.py",
        "fleetctl/errors.py",
        "stacks/components/network.py",
        "stacks/__main__.py",
        "stacks/Pulumi.yaml",
    ],
)
def test_a_change_in_any_imported_file_reruns_every_stack(project: Path, change: str) -> None:
    before = keys(project)
    append(project, change)
    after = keys(project)
    assert after[STACK] != before[STACK] and after[OTHER] != before[OTHER]


@pytest.mark.parametrize(
    "change",
    [
        "fleetctl/core/planner.py",
        "fleetctl/core/gates.py",  # once, through core/naming.py, every core edit re-ran all
        "fleetctl/core/__init__.py",
        "fleetctl/core/guardrails.py",
        "fleetctl/services/rollout/engine.py",  # was services/rollout.py (now a package)
        "fleetctl/cli/main.py",
    ],
)
def test_a_change_the_program_does_not_import_keeps_the_cache(project: Path, change: str) -> None:
    before = keys(project)
    append(project, change)
    assert keys(project) == before


def test_a_new_import_brings_the_module_into_the_key(project: Path) -> None:
    before = keys(project)
    append(project, "stacks/components/edge.py", "\nfrom fleetctl.core import planner  # noqa\n")
    mid = keys(project)
    assert mid != before
    append(project, "fleetctl/core/planner.py")
    assert keys(project)[STACK] != mid[STACK]


def test_the_config_reruns_its_stack_only(project: Path) -> None:
    before = keys(project)
    append(project, f"stacks/Pulumi.{STACK}.yaml")
    after = keys(project)
    assert after[STACK] != before[STACK] and after[OTHER] == before[OTHER]


def test_the_fingerprint_key_and_the_fleetctl_version_rerun(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = keys(project)
    assert keys(project, key_id="k2")[STACK] != before[STACK]
    monkeypatch.setattr(svc, "__version__", "99.0")
    svc._engine_tag.cache_clear()
    try:
        assert keys(project)[STACK] != before[STACK]
    finally:
        monkeypatch.undo()
        svc._engine_tag.cache_clear()


def test_the_base_side_from_git_has_the_same_keys(project: Path) -> None:
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "base")
    from fleetctl.adapters import git as gitad

    commit = gitad.resolve(project, "HEAD")
    raw = gitad.tree_blobs(project, commit, ["stacks", "fleetctl"])
    base = svc._base_program(project, raw)
    head = svc._head_program(project)
    assert base.blobs == head.blobs
    assert base.modules == head.modules


def test_every_spelling_of_an_import_is_followed() -> None:
    files = {
        "stacks/__main__.py": (
            "import os; import fleetctl.a\n"
            "from fleetctl import (\n    b,  # comment\n    c as cc,\n)\n"
            "def f():\n    from fleetctl.d import \\\n        x\n"
            "if TYPE_CHECKING:\n    import fleetctl.e as e, fleetctl.f\n"
        ),
        **{f"fleetctl/{m}.py": "" for m in ("__init__", "a", "b", "c", "e", "f", "unused")},
        "fleetctl/d/__init__.py": "",
        "fleetctl/d/x.py": "",
    }
    read: Callable[[str], str | None] = files.get
    got = import_closure(["stacks/__main__.py"], read)
    assert got == set(files) - {"stacks/__main__.py", "fleetctl/unused.py"}


def test_relative_imports_are_followed() -> None:
    files = {
        "stacks/__main__.py": "import fleetctl.spec\n",
        "fleetctl/__init__.py": "",
        "fleetctl/spec/__init__.py": "from .loader import x\n",
        "fleetctl/spec/loader.py": "from ..core import naming\n",
        "fleetctl/core/__init__.py": "",
        "fleetctl/core/naming.py": "",
        "fleetctl/core/planner.py": "",
    }
    got = import_closure(["stacks/__main__.py"], files.get)
    assert got == set(files) - {"stacks/__main__.py", "fleetctl/core/planner.py"}


def test_the_programs_own_modules_are_warmed_but_not_a_stray_script(project: Path) -> None:
    # The worker imports these before forking: only what __main__.py imports
    # (transitively), never a script that merely sits in stacks/.
    (project / "stacks" / "components" / "helper.py").write_text("X = 1\n")
    append(project, "stacks/components/edge.py", "\nfrom components import helper\n")
    (project / "stacks" / "tools").mkdir()
    (project / "stacks" / "tools" / "__init__.py").write_text("")
    (project / "stacks" / "tools" / "regen.py").write_text("import os\nos.remove('x')\n")
    modules = svc._head_program(project).modules
    own = [m for m in modules if not m.startswith("fleetctl")]
    assert own[0] == "components"  # the package before its modules
    assert {"components.edge", "components.network", "components.helper"} <= set(own)
    assert not any(m.startswith("tools") for m in modules)
    assert "fleetctl.spec" in modules
