"""The package's layers: each imports only the layers below it, and no module imports itself back
through others. Imports inside functions and under TYPE_CHECKING count too."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

from tests.helpers import ROOT

PACKAGE = ROOT / "judgekit"
# Bottom to top; modules of one rank never import each other across packages.
RANKS = {
    "errors": 0, "config": 0, "secrets": 0, "jsonvalue": 0, "arguments": 0.5,
    "rubric": 1, "data": 2, "llm": 3, "protocol": 4, "judging": 5, "authoring": 6, "judge": 7,
    "rl": 8, "evaluation": 8, "panel": 8, "inspect": 8, "ray": 8, "cli": 9, "testing": 0, "__init__": 10, "__main__": 10,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(node: ast.AST, modules: set[str]) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        names = [f"{node.module}.{a.name}" for a in node.names]
    elif isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        return []
    found = []
    for name in names:
        while name not in modules and "." in name:
            name = name.rsplit(".", 1)[0]
        if name in modules:
            found.append(name)
    return found


def import_graph() -> nx.DiGraph:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    for name, path in files.items():
        graph.add_node(name)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            graph.add_edges_from((name, target) for target in imported(node, set(files)) if target != name)
    return graph


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_module_imports_itself_back():
    assert list(nx.simple_cycles(import_graph())) == []


def test_each_layer_imports_only_the_layers_below_it():
    upward = [
        (a, b) for a, b in import_graph().edges
        if layer(a) != layer(b) and layer(a) != "testing" and RANKS[layer(b)] >= RANKS[layer(a)]
    ]
    assert upward == []


# Rubric authoring builds rubrics; judging never needs it (criteria written at judging time live in
# judging/). Only the command line and the public names of judgekit/__init__.py reach it.
MAY_IMPORT_AUTHORING = {"authoring", "cli", "__init__"}


def test_only_the_command_line_and_the_public_api_import_rubric_authoring():
    judging_through_authoring = [
        (a, b) for a, b in import_graph().edges if layer(b) == "authoring" and layer(a) not in MAY_IMPORT_AUTHORING
    ]
    assert judging_through_authoring == []


def test_every_subpackage_has_a_rank():
    assert {layer(m) for m in import_graph().nodes} <= set(RANKS)


def test_examples_and_benchmarks_use_only_the_public_api():
    import judgekit
    import judgekit.testing

    public = {"judgekit": set(judgekit.__all__), "judgekit.testing": set(judgekit.testing.__all__)}
    used: list[str] = []
    for path in [*(ROOT / "examples").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("judgekit"):
                used += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name not in public.get(node.module, ())]
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "judgekit"
                  and node.attr not in public["judgekit"] and node.attr != "testing"):
                used.append(f"{path.name}: judgekit.{node.attr}")
    assert used == []


def test_the_public_names_exist():
    import judgekit

    assert [name for name in judgekit.__all__ if not hasattr(judgekit, name)] == []
