"""What generated packages import from cliquet is its documented public API, and nothing else.

A generated project, backend or extension is code its author keeps and builds on: any name it
takes from cliquet must be one the README documents (a module's ``__all__``, for a module the
README's "What extensions and backends build on" lists), so that cliquet may change the rest.
"""

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

import cliquet

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")

# The modules of the README's "What extensions and backends build on".
PUBLIC_MODULES = {
    "cliquet",
    "cliquet.cache",
    "cliquet.events",
    "cliquet.listeners",
    "cliquet.permission",
    "cliquet.resource",
    "cliquet.settings",
    "cliquet.startup",
    "cliquet.storage",
    "cliquet.storage.selection",
    "cliquet.testing.cache",
    "cliquet.testing.permission",
    "cliquet.testing.storage",
    "cliquet.testing.web",
}

BAKES = [
    ("project", {}),
    ("extension", {}),
    ("backend", {"kind": "cache"}),
    ("backend", {"kind": "storage"}),
    ("backend", {"kind": "permission"}),
]


def _cliquet_names(tree: ast.Module) -> set[tuple[str, str]]:
    """Every ``(module, name)`` a file takes from cliquet, ``(module, "")`` for a module used.

    Names come from ``from cliquet.x import name`` and from attributes of an imported cliquet
    module (``cliquet.initialize``, ``resource.register``).
    """
    taken: set[tuple[str, str]] = set()
    modules: dict[str, str] = {}  # local name -> cliquet module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "cliquet":
            for alias in node.names:
                if _is_module(f"{node.module}.{alias.name}"):
                    modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                else:
                    taken.add((node.module or "", alias.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "cliquet":
                    modules[alias.asname or "cliquet"] = alias.name if alias.asname else "cliquet"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module = modules.get(node.value.id)
            if module is not None and not _is_module(f"{module}.{node.attr}"):
                taken.add((module, node.attr))
    taken.update((module, "") for module in modules.values())
    return taken


def _is_module(qualified: str) -> bool:
    try:
        return importlib.util.find_spec(qualified) is not None
    except ModuleNotFoundError:
        return False


@pytest.mark.parametrize(
    "template, context", BAKES, ids=[f"{t}-{c.get('kind', '')}".rstrip("-") for t, c in BAKES]
)
def test_generated_packages_take_only_documented_names_from_cliquet(cookies, template, context):
    result = cookies.bake(template=str(TEMPLATES / template), extra_context=context)
    assert result.exception is None, result.exception
    taken: set[tuple[str, str]] = set()
    for path in result.project_path.rglob("*.py"):
        taken |= _cliquet_names(ast.parse(path.read_text(encoding="utf-8")))
    assert taken, "the generated package uses cliquet"
    for module, name in sorted(taken):
        assert module in PUBLIC_MODULES, f"{module} is not a documented module"
        if name:
            exported = importlib.import_module(module).__all__
            assert name in exported, f"{module}.{name} is not in {module}.__all__"


def test_the_readme_lists_the_public_modules() -> None:
    section = README[README.index("### What extensions and backends build on") :]
    section = section[: section.index("\n#")]
    for module in PUBLIC_MODULES:
        assert f"`{module}`" in section, module


def test_make_service_is_public_and_applies_the_cors_settings() -> None:
    from pyramid.security import NO_PERMISSION_REQUIRED

    from cliquet.testing.web import build_app

    assert "make_service" in cliquet.__all__

    def setup(config):
        service = cliquet.make_service(config, "status", "/status", description="Status")
        service.add_view("GET", lambda request: {"ok": True}, permission=NO_PERMISSION_REQUIRED)
        config.add_cornice_service(service)

    app = build_app({"cliquet.cors_origins": "https://app.example"}, setup=setup)
    origin = {"Origin": "https://app.example"}
    response = app.get("/v1/status", headers=origin)
    assert response.json == {"ok": True}
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    missing = app.get("/v1/status/nowhere", status=404)
    assert missing.json["errno"] == 111
