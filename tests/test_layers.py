"""The package's layers: a module imports only from its own layer or below, and no imports form a cycle.

Add a new top-level module to LAYERS; modules inside models/, exercises/ and tools/ are mapped by
their package. Imports inside functions count as much as those at the top of a file.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib.base.paths import PACKAGE_DIR

# bottom -> top; a module may import from its own layer or any layer listed before it
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("course_lib.base",)),
    ("data", ("course_lib.shapes_world", "course_lib.photos", "course_lib.tokenizer")),
    ("display", ("course_lib.plots", "course_lib.widgets")),
    (
        "concepts",
        (
            "course_lib.patches",
            "course_lib.contrastive",
            "course_lib.sigmoid_loss",
            "course_lib.distributed",
            "course_lib.budgets",
            "course_lib.video",
        ),
    ),
    ("training", ("course_lib.training",)),
    ("models", ("course_lib.models",)),
    ("evaluation", ("course_lib.retrieval", "course_lib.zero_shot", "course_lib.vector_search", "course_lib.locality")),
    ("recipes", ("course_lib.recipes",)),
    ("studies", ("course_lib.studies",)),
    # notebook 08: the bank's numeric answers call functions of the layers below by name (bank.resolve), and its
    # drills import budgets and patches, so the interview package sits above them all
    ("review", ("course_lib.interview",)),
    ("exercises", ("course_lib.exercises",)),
    ("tools", ("course_lib.tools", "course_lib.grade")),  # course_lib.grade: `python -m course_lib.grade` (i22)
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in tests/test_layers.py")


def imports_of(path: Path) -> set[str]:
    """course_lib modules that `path` imports (absolute or relative, at any depth of the file)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("course_lib")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("course_lib"):
                continue
            names = [f"{target}.{a.name}" for a in node.names]  # `from . import budgets` imports a module
            found |= {n for n in names if _is_module(n)} or {target}
    return {m for m in found if m != module}


def _is_module(name: str) -> bool:
    path = PACKAGE_DIR.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


MODULES = {module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}
GRAPH = {m: {i for i in imports_of(p) if i != "course_lib"} for m, p in MODULES.items() if m != "course_lib"}


def upward(module: str, imports: set[str]) -> list[str]:
    """The imports of `module` that come from a higher layer."""
    return sorted(i for i in imports if layer_of(i) > layer_of(module))


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` (module -> imported modules) as a path, or None."""
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if state.get(target) is None and target in graph:
                cycle = visit(target, path + [target])
                if cycle:
                    return cycle
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module, [module])
            if cycle:
                return cycle
    return None


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down(module):
    bad = upward(module, GRAPH[module])
    assert not bad, (
        f"{module} (layer {LAYERS[layer_of(module)][0]}) imports {bad} from a higher layer; "
        "move the shared code down or the importer up"
    )


def test_no_import_cycles():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_layer_checks_catch_what_they_should():
    assert upward("course_lib.shapes_world", {"course_lib.models.clip", "course_lib.base.validation"}) == [
        "course_lib.models.clip"
    ]
    assert upward("course_lib.zero_shot", {"course_lib.retrieval", "course_lib.models.dual_encoder"}) == []
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("course_lib.somewhere_new")


def test_import_course_lib_is_light():
    """`import course_lib` loads no torch, matplotlib or course_lib.distributed, and generates no data."""
    code = (
        "import sys, course_lib; heavy = [m for m in ('torch', 'matplotlib', 'transformers', "
        "'course_lib.distributed', 'course_lib.exercises', 'course_lib.shapes_world') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
