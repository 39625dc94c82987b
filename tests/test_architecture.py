"""The rules of the house, checked: layers import downward only, serving never loads LightFM,
the command line never imports a route, and the wheel owns one import name and ships every file."""

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# suppressor's subpackages from the bottom up: each may import the ones before it, never after
LAYERS = [
    "settings",
    "errors",
    "domain",
    "rules",
    "storage",
    "model",
    "policy",
    "tenants",
    "customers",
    "hooks",
    "decisions",
    "whatif",
    "client",
]
DATA = {"lua", "__init__"}  # no layer: Lua scripts, and the package's own module


def imported(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved against its package)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1]).replace("api", "suppressor.api", 1)
    out = set()
    tree = ast.parse(path.read_text())
    typing_only = {
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for stmt in block.body
        for n in ast.walk(stmt)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:  # an import for annotations only: no dependency at run time
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


def test_every_subpackage_is_a_layer():
    found = {
        p.name.removesuffix(".py")
        for p in (ROOT / "suppressor").iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"
    }
    assert found - DATA == set(LAYERS)


def test_each_layer_imports_only_the_layers_below_it():
    wrong = []
    for path in (ROOT / "suppressor").rglob("*.py"):
        own = path.relative_to(ROOT / "suppressor").parts[0].removesuffix(".py")
        if own not in LAYERS:
            continue
        for name in imported(path):
            parts = name.split(".")
            if (
                parts[0] == "suppressor"
                and len(parts) > 1
                and parts[1] in LAYERS
                and parts[1] != own
                and LAYERS.index(parts[1]) > LAYERS.index(own)
            ):
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def test_the_command_line_imports_no_route():
    assert {n for n in imported(ROOT / "api" / "cli.py") if ".routes" in n} == set()


def test_serving_needs_neither_lightfm_nor_matplotlib():
    # as on a machine without the `train` extra: importing either fails, and serving must not care
    code = (
        "import sys, importlib.abc\n"
        "class NotInstalled(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] in ('lightfm', 'matplotlib'): raise ImportError(name + ' is not installed')\n"
        "sys.meta_path.insert(0, NotInstalled())\n"
        "import suppressor.api.app, suppressor.api.routes.models, suppressor.api.cli, suppressor.decisions\n"
        "suppressor.api.app.create_app()\n"
        "print(sorted({'lightfm', 'matplotlib'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr[-2000:]


def test_core_imports_neither_api_nor_training_and_the_wheel_owns_one_name(tmp_path):
    code = (
        "import pkgutil, importlib, sys, suppressor\n"
        "for m in pkgutil.walk_packages(suppressor.__path__, 'suppressor.'): importlib.import_module(m.name)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('api', 'training', 'lightfm')\n"
        "             or n.startswith(('suppressor.api', 'suppressor.training'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    # what `pip install` puts in site-packages: suppressor (api and training inside it), nothing else
    # built from a clean copy: a stale build/ folder would otherwise put deleted modules in the wheel
    src = tmp_path / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".suppressor", ".*_cache"
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(src), "-w", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    names = set(zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist())
    assert {n.split("/")[0] for n in names} == {"suppressor", "suppressor-0.1.0.dist-info"}
    # and every source file of every subpackage is in it (a package missing from pyproject.toml is not)
    shipped = {
        f"suppressor/{p.relative_to(ROOT / folder)}"
        if folder == "suppressor"
        else f"suppressor/{folder}/{p.relative_to(ROOT / folder)}"
        for folder in ("suppressor", "api", "training")
        for p in (ROOT / folder).rglob("*")
        if p.suffix in (".py", ".lua", ".html", ".js", ".json")
    }
    assert shipped - names == set()
    assert {n for n in names if n.endswith(".py")} - shipped == set()  # nothing stale or stray


def test_the_client_needs_only_the_public_shapes():
    # a sender's process imports the client without the store, the model or the policy engine
    mine = {n.split(".")[1] for n in imported(ROOT / "suppressor" / "client.py") if n.startswith("suppressor.")}
    assert mine <= {"domain"}


def test_lua_lives_only_in_lua_and_the_rule_units():
    # a script beside Python code is a script nobody finds (the key layout, the full-store write order)
    inline = [
        str(p.relative_to(ROOT))
        for folder in ("suppressor", "api", "training")
        for p in (ROOT / folder).rglob("*.py")
        if "redis.call(" in p.read_text()
    ]
    assert inline == []
