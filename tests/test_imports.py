"""The shape of the house, read from the source: no import cycles between modules or library
packages, no library package importing the commands, the CLI or `headstart` itself, and every
import pointing down the layer order (`bench/import_graph.py` prints the same graph)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_path = Path(__file__).resolve().parents[1] / "bench" / "import_graph.py"
_spec = importlib.util.spec_from_file_location("import_graph", _path)
ig = importlib.util.module_from_spec(_spec)
sys.modules["import_graph"] = ig
_spec.loader.exec_module(ig)


@pytest.fixture(scope="module")
def edges() -> dict[str, set[str]]:
    return ig.graph()


def test_graph__sees_imports_inside_functions(tmp_path):
    pkg = tmp_path / "headstart"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("")
    (pkg / "a" / "x.py").write_text("def f():\n    from headstart.a import y\n")
    (pkg / "a" / "y.py").write_text("from . import x\n")
    g = ig.graph(tmp_path)
    assert g["headstart.a.x"] == {"headstart.a.y"} and g["headstart.a.y"] == {"headstart.a.x"}
    assert ig.cycles(g) == [["headstart.a.x", "headstart.a.y"]]


def test_modules__no_cycles(edges):
    assert ig.cycles(edges) == []


def test_library_packages__no_cycles(edges):
    pkgs = ig.package_edges(edges)
    lib = {p: {t for t in ts if ig.is_library(t)} for p, ts in pkgs.items() if ig.is_library(p)}
    assert ig.cycles(lib) == []


def test_library_packages__never_import_commands_cli_or_headstart(edges):
    assert ig.upward(edges) == []


def test_layers__every_import_points_down(edges):
    assert ig.against_layers(edges) == []


def test_layers__every_package_has_a_place(edges):
    pkgs = {ig.package(m) for m in edges}
    assert {p for p in pkgs if ig.is_library(p) and ig._rank(p) is None} == set()


def test_commands__are_what_the_api_and_the_cli_call():
    import headstart
    from headstart.cli.main import load_commands

    assert all(target.startswith("headstart.commands.") for target in headstart._API.values())
    for cmd in load_commands():
        module = cmd.target.partition(":")[0]
        assert module.startswith(("headstart.commands.", "headstart.cli.")), cmd.target
    cli_names = {c.name for c in load_commands()}
    api_as_cli = {("active" if n == "active_learning" else n.replace("_", "-")) for n in headstart._API}
    assert api_as_cli <= cli_names  # every public function is a command


def test_cli__imports_only_commands_and_configs(edges):
    """The CLI reads configs (torch-free, for a fast --help) and calls commands; nothing else."""
    allowed = ("headstart.commands", "headstart.cli", "headstart.config", "headstart.errors")
    wrong = {(m, t) for m, ts in edges.items() if ig.package(m) == "cli" for t in ts
             if not t.startswith(allowed) and not t.endswith(".config")}
    assert wrong == set()


def test_help__imports_no_torch():
    """`headstart --help` and every command's `--help` read the configs only: start-up stays fast."""
    import subprocess

    code = ("import sys; from headstart.cli.main import build_parser, load_commands; "
            "build_parser(load_commands()).format_help(); "
            "print(sorted(m for m in ('torch', 'lightning', 'timm', 'torchvision', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_adapt__knows_no_pretraining_method(edges):
    """Fine-tuning stands on the training base (`train.module`), not on the pretraining `Method`."""
    assert {(m, t) for m, ts in edges.items() if ig.package(m) == "adapt" for t in ts if ig.package(t) == "methods"} == set()


def test_core_commands__import_without_the_extras():
    """A fresh `pip install headstart` (no extras: what scripts/demo.sh sets up) runs every image command:
    no module on their import path needs an extra's package (pycocotools, starlette, plotly, sklearn,
    ultralytics)."""
    import subprocess

    extras = ("pycocotools", "starlette", "uvicorn", "plotly", "sklearn", "umap", "pyarrow", "onnx", "trl",
              "bitsandbytes", "ultralytics")
    code = (f"import sys; sys.modules.update(dict.fromkeys({extras!r})); "   # None: importing them fails
            "import headstart.commands.demo, headstart.commands.finetune, headstart.commands.pretrain, "
            "headstart.commands.evaluate, headstart.commands.study, headstart.commands.export")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
