"""Layers: an import only ever points down. Every module's imports (top level and inside functions) are read
with ``ast`` and checked against the allowed map below (docs/ARCHITECTURE.md shows the same map).

    entry points   app/   cli/   worker/     (each may import the layers below; app and cli may also import
                                              worker to start or run a worker; nothing imports app or cli)
    services/                                 what a user does, one function each
    db/                                       schema, session, migrations, queries, review rules and actions, jobs
    model/                                    the network: build, train, predict, vectorize, metrics
    geo/                                      raster and vector I/O
    errors.py                                 the one error type
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("errors", "geo", "model", "db", "services", "worker", "cli", "app")
BELOW_SERVICES = {"errors", "geo", "model", "db"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "geo": {"errors"},
    "model": {"errors", "geo"},
    "db": {"errors", "geo", "model"},  # db/review uses geo.edit, db/training_data builds model.data examples
    "services": BELOW_SERVICES,
    "worker": BELOW_SERVICES | {"services"},
    "cli": BELOW_SERVICES | {"services", "worker"},  # `footprints worker` runs the worker loop
    "app": BELOW_SERVICES | {"services", "worker"},  # the app starts a local worker process
}
# Known exceptions, each with the reason it is still there; keep this list empty or shrinking.
EXCEPTIONS: dict[tuple[str, str], str] = {}


def project_modules() -> list[Path]:
    files = [ROOT / "errors.py"]
    for layer in LAYERS[1:]:
        files += sorted(p for p in (ROOT / layer).rglob("*.py") if "__pycache__" not in p.parts)
    return files


def layer_of(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.stem if len(rel.parts) == 1 else rel.parts[0]


def imported_layers(path: Path) -> set[str]:
    """The project layers a module imports (absolute imports; relative ones stay inside its own package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names if name.split(".")[0] in LAYERS}
    return found


def test_the_allowed_map_only_points_down():
    for layer, allowed in ALLOWED.items():
        for lower in allowed:
            assert LAYERS.index(lower) < LAYERS.index(layer), (layer, lower)


@pytest.mark.parametrize("path", project_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_a_higher_layer(path):
    layer = layer_of(path)
    rel = str(path.relative_to(ROOT))
    wrong = {other for other in imported_layers(path) - {layer} - ALLOWED[layer]
             if (rel, other) not in EXCEPTIONS}
    assert not wrong, f"{rel} ({layer}) imports {sorted(wrong)}; allowed: {sorted(ALLOWED[layer])}"


def test_exceptions_are_still_needed():
    for (rel, other), reason in EXCEPTIONS.items():
        path = ROOT / rel
        assert path.exists() and other in imported_layers(path), f"{rel} no longer needs its exception: {reason}"
