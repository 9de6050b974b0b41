"""The layering of swarmreg, read from its source: what may import what, and names that stay private.

* the core — model, objective, penalties, decay rules, the trainer skeleton, the
  trainers, results, checks, conventions, files — never imports the sweep,
  records, plots, report or command-line layers;
* the three trainers never import each other, nor does what they share
  (model, objective, penalties, decay rules, skeleton, results) import them;
  plots never import a trainer;
* no module imports another module's private (underscored) name or reaches
  into one through a module it imported;
* every key the figures, the report, the command line and the comparison
  script read from a record is a field :mod:`swarmreg.records` declares.
"""

import ast
from importlib import resources
from pathlib import Path

import pytest

from swarmreg import records

ROOT = Path(str(resources.files("swarmreg")))
SCRIPTS = ROOT.parent / "scripts"

CORE = {"model", "objective", "penalties", "decay", "schedules", "training", "backprop", "swarm", "reference", "cmaes",
        "topologies", "result", "checks", "conventions", "files", "data"}
UPPER = {"sweep", "records", "measures", "plots", "report", "findings", "wording", "cli", "experiment"}
TRAINERS = {"backprop", "swarm", "reference", "cmaes"}


def modules():
    """{dotted name below swarmreg: path} of every module of the package."""
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(p for p in parts if p != "__init__") or "__init__"
        out[name] = path
    return out


def imports(name: str, path: Path):
    """(imported swarmreg module below the package, imported names) for every import in a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    if name == "__init__":
        package = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("swarmreg"):
                target = node.module[len("swarmreg"):].lstrip(".")
            else:
                continue
            names = [a.name for a in node.names]
            if not node.module:  # from . import x, y: each is a module
                for n in names:
                    yield ".".join(base + [n]), []
            else:
                yield target, names
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("swarmreg."):
                    yield a.name[len("swarmreg."):], []


MODULES = modules()


def top(target: str) -> str:
    return target.split(".")[0] if target else ""


def test_the_source_tree_is_what_these_rules_speak_of():
    names = set(MODULES)
    for required in ("model", "objective", "penalties", "decay", "training", "backprop", "swarm", "reference",
                     "records", "plots", "report", "cli", "sweep", "sweep.spec", "sweep.runs", "sweep.store",
                     "sweep.executors", "sweep.meaning"):
        assert required in names, required
    assert sum(1 for _ in imports("sweep.runs", MODULES["sweep.runs"])) >= 5  # the reader sees imports


@pytest.mark.parametrize("name", sorted(n for n in MODULES if top(n) in CORE))
def test_the_core_never_imports_the_layers_above_it(name):
    above = sorted({t for t, _ in imports(name, MODULES[name]) if top(t) in UPPER})
    assert above == [], f"{name} imports {above}"


@pytest.mark.parametrize("name", sorted(TRAINERS))
def test_trainers_never_import_each_other(name):
    others = sorted({t for t, _ in imports(name, MODULES[name]) if top(t) in TRAINERS - {name}})
    assert others == [], f"{name} imports {others}"


@pytest.mark.parametrize("name", sorted(CORE - TRAINERS - {"data", "conventions", "files"}))
def test_the_pieces_the_trainers_share_never_import_a_trainer(name):
    trainers = sorted({t for t, _ in imports(name, MODULES[name]) if top(t) in TRAINERS})
    assert trainers == [], f"{name} imports {trainers}"


def test_plots_never_import_a_trainer():
    for t, _ in imports("plots", MODULES["plots"]):
        assert top(t) not in TRAINERS | {"training", "sweep"}, t


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_private_name_crosses_a_file(name):
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported_modules = set()
    for target, names in imports(name, path):
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        assert private == [], f"{name} imports private {private} from {target}"
    for node in ast.walk(tree):  # aliases of swarmreg modules: `from . import records as R`
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("swarmreg")):
            for a in node.names:
                if f"{node.module or ''}.{a.name}".strip(".") in MODULES or a.name in MODULES \
                        or f"sweep.{a.name}" in MODULES:
                    imported_modules.add(a.asname or a.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in imported_modules and node.attr.startswith("_") and not node.attr.startswith("__"):
            pytest.fail(f"{name}:{node.lineno} uses {node.value.id}.{node.attr}")


READERS = [ROOT / "plots.py", ROOT / "report.py", ROOT / "findings.py", ROOT / "cli.py", SCRIPTS / "compare.py"]
RECORD_NAMES = {"r", "rec", "record"}   # how these files name a record
DERIVED = {"gap"}                       # added to a record by records.objective_gaps


@pytest.mark.parametrize("path", READERS, ids=[p.name for p in READERS])
def test_every_record_key_read_is_a_declared_field(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    read = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in RECORD_NAMES \
                and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            read.add(node.slice.value)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id in RECORD_NAMES \
                and node.args and isinstance(node.args[0], ast.Constant):
            read.add(node.args[0].value)
    assert read, f"{path.name} reads no record field: the check would be empty"
    undeclared = read - set(records.FIELD_NAMES) - DERIVED
    assert undeclared == set(), f"{path.name} reads undeclared record keys {sorted(undeclared)}"
