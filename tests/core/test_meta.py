"""Meta-tests: the contracts that keep the plugin host honest (DESIGN.md C0.5, C11).

- every hookspec (core and each feature's ``plugins/<name>/hookspecs.py``) has a ``test_hook_<name>``
  under ``tests/``, a docstring with a ``:param x:`` per argument, and a heading in
  ``docs/plugin_hooks.md`` carrying its exact signature ``name(arg, arg)``;
- ``colonnade.__all__`` keeps every public name (plugin authors import them);
- ``pyproject.toml`` lists every package, and declares every built-in plugin as an entry point;
- every built-in plugin has a module docstring and only hookimpls among its public functions;
- ``pm.check_pending()`` passes with every built-in loaded, and with each one blocked in turn.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

import colonnade
from colonnade.plugin_manager import BUILTIN_DISTRIBUTION, ESSENTIAL_PLUGINS, make_plugin_manager
from colonnade.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
HOOK_DOCS = ROOT / "docs" / "plugin_hooks.md"

#: The stable public API. Adding a name is fine (add it here too); removing one breaks plugins.
PUBLIC_API = [
    "Action",
    "Actor",
    "ApiError",
    "Event",
    "Host",
    "NamedRegistry",
    "StartupError",
    "__version__",
    "await_me_maybe",
    "call_all",
    "collect_named",
    "compose_stream_wrappers",
    "current_actor",
    "first_non_none",
    "hookimpl",
    "hookspec",
    "require",
]


def hookspec_modules() -> list[str]:
    """The core hookspecs module and every built-in feature's ``hookspecs.py``."""
    features = sorted(path.parent.name for path in (ROOT / "plugins").glob("*/hookspecs.py"))
    return ["colonnade.hookspecs", *(f"colonnade.plugins.{name}.hookspecs" for name in features)]


def all_hookspecs() -> list[tuple[str, object]]:
    """Every spec of the core and the built-ins: from the hookspecs modules, and from a plugin manager
    with every built-in loaded (which also finds specs a feature keeps under another module name)."""
    specs: dict[str, object] = {}
    for module_name in hookspec_modules():
        module = importlib.import_module(module_name)
        for name, value in sorted(vars(module).items()):
            if inspect.isfunction(value) and getattr(value, "colonnade_spec", None) is not None:
                specs[name] = value
    pm = make_plugin_manager(Settings.from_dict({"host": {"load_plugins": ["*"]}}))
    for name, caller in vars(pm.hook).items():
        spec = getattr(caller, "spec", None)
        if spec is None:
            continue
        namespace = spec.namespace
        home = namespace.__name__ if isinstance(namespace, ModuleType) else namespace.__module__
        if home.startswith("colonnade."):
            specs.setdefault(name, spec.function)
    return sorted(specs.items())


HOOKSPECS = all_hookspecs()


def signature(function) -> str:
    return f"{function.__name__}({', '.join(inspect.signature(function).parameters)})"


def test_the_core_hookspecs_are_all_there():
    core = {name for name, spec in HOOKSPECS if spec.__module__ == "colonnade.hookspecs"}
    assert core == {
        "add_hookspecs",
        "register_config_models",
        "register_db_models",
        "register_blueprints",
        "register_actions",
        "register_events",
        "startup",
        "shutdown",
        "actor_from_request",
        "permission_allowed",
        "on_event",
        "register_commands",
        "handle_exception",
    }


@pytest.fixture(scope="module")
def test_sources() -> str:
    return "\n".join(path.read_text() for path in TESTS.rglob("test_*.py"))


@pytest.mark.parametrize(("name", "spec"), HOOKSPECS, ids=[name for name, _ in HOOKSPECS])
def test_every_hook_has_a_test(name, spec, test_sources):
    assert re.search(rf"def test_hook_{name}\(", test_sources), (
        f"hook {name} (from {spec.__module__}) needs a test named test_hook_{name} under tests/"
    )


@pytest.fixture(scope="module")
def doc_headings() -> list[str]:
    return [line for line in HOOK_DOCS.read_text().splitlines() if line.startswith("#")]


@pytest.mark.parametrize(("name", "spec"), HOOKSPECS, ids=[name for name, _ in HOOKSPECS])
def test_every_hook_is_documented_with_its_signature(name, spec, doc_headings):
    expected = signature(spec)
    assert any(expected in heading for heading in doc_headings), (
        f"docs/plugin_hooks.md needs a heading containing `{expected}`"
    )


def test_documented_hooks_all_exist(doc_headings):
    specified = {name for name, _ in HOOKSPECS}
    documented = {match.group(1) for heading in doc_headings if (match := re.search(r"`(\w+)\(", heading))}
    assert documented <= specified, f"docs/plugin_hooks.md documents unknown hooks: {documented - specified}"


@pytest.mark.parametrize(("name", "spec"), HOOKSPECS, ids=[name for name, _ in HOOKSPECS])
def test_every_hookspec_docstring_follows_the_format(name, spec):
    doc = inspect.getdoc(spec) or ""
    assert doc, f"hookspec {name} has no docstring"
    for argument in inspect.signature(spec).parameters:
        assert f":param {argument}:" in doc, f"hookspec {name}: document argument {argument} with :param:"


def test_public_api_is_stable():
    assert sorted(colonnade.__all__) == PUBLIC_API
    for name in colonnade.__all__:
        assert hasattr(colonnade, name), name


# -- docs examples that double as tests -------------------------------------------------------------


def marked_examples() -> list[tuple[str, str]]:
    """``(name, text)`` of every region between ``# docs-start: name`` and ``# docs-end: name`` in tests."""
    import textwrap

    found = []
    for path in sorted(TESTS.rglob("*.py")):
        text = path.read_text()
        for match in re.finditer(r"^[ \t]*# docs-start: ([\w-]+)\n(.*?)^[ \t]*# docs-end: \1$", text, re.DOTALL | re.MULTILINE):
            found.append((match.group(1), textwrap.dedent(match.group(2)).strip()))
    return found


def test_docs_examples_exist():
    assert {"hello-plugin", "trusted-header"} <= {name for name, _ in marked_examples()}


@pytest.mark.parametrize(("name", "example"), marked_examples(), ids=[name for name, _ in marked_examples()])
def test_docs_examples_match_their_tests(name, example):
    docs = "\n".join(path.read_text() for path in (ROOT / "docs").glob("*.md"))
    assert example in docs, f"the example {name!r} in tests/ changed: copy it into docs/ again"


AUTHOR_DOCS = ["plugin_hooks.md", "writing_plugins.md", "testing_plugins.md", "internals.md"]


def python_blocks() -> list[tuple[str, str]]:
    blocks = []
    for name in AUTHOR_DOCS:
        text = (ROOT / "docs" / name).read_text()
        for number, match in enumerate(re.finditer(r"^```python\n(.*?)^```$", text, re.DOTALL | re.MULTILINE)):
            blocks.append((f"{name}#{number + 1}", match.group(1)))
    return blocks


@pytest.mark.parametrize(("where", "code"), python_blocks(), ids=[where for where, _ in python_blocks()])
def test_docs_python_examples_are_valid_python(where, code):
    ast.parse(code, filename=where)


# -- packaging ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def package_directories() -> set[str]:
    found = set()
    for folder, prefix in (("core", "colonnade"), ("plugins", "colonnade.plugins")):
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            relative = init.parent.relative_to(base).parts
            if "__pycache__" in relative:
                continue
            found.add(".".join((prefix, *relative)))
    return found


def test_pyproject_lists_every_package(pyproject):
    listed = set(pyproject["tool"]["setuptools"]["packages"])
    on_disk = package_directories()
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - on_disk == set(), "these packages in pyproject.toml have no folder"


def builtin_plugin_names() -> list[str]:
    return sorted(path.parent.name for path in (ROOT / "plugins").glob("*/__init__.py"))


def test_every_builtin_plugin_is_an_entry_point(pyproject):
    declared = pyproject["project"]["entry-points"]["colonnade.plugins"]
    expected = {name: f"colonnade.plugins.{name}" for name in builtin_plugin_names()}
    assert declared == expected


def plugin_modules() -> list[tuple[str, Path]]:
    core = {name: ROOT / "core" / Path(*path.split(".")[1:]) for name, path in ESSENTIAL_PLUGINS.items()}
    modules = [(name, path / "__init__.py" if path.is_dir() else path.with_suffix(".py")) for name, path in core.items()]
    modules += [(name, ROOT / "plugins" / name / "__init__.py") for name in builtin_plugin_names()]
    return modules


@pytest.mark.parametrize(("name", "path"), plugin_modules(), ids=[name for name, _ in plugin_modules()])
def test_every_builtin_plugin_has_a_docstring_and_only_hookimpls(name, path):
    tree = ast.parse(path.read_text())
    assert ast.get_docstring(tree), f"plugin {name}: {path} needs a module docstring saying what it does"
    if path.name != "__init__.py":
        return  # core plugins in a single module hold their views beside the hookimpls
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            decorators = [ast.unparse(decorator) for decorator in node.decorator_list]
            assert any(decorator.startswith("hookimpl") for decorator in decorators), (
                f"plugin {name}: {node.name} is not a hookimpl; move it to a sibling module or make it private"
            )


# -- check_pending -----------------------------------------------------------------------------------


def _settings(block: list[str] = ()) -> Settings:
    return Settings.from_dict({"host": {"load_plugins": ["*"], "block_plugins": list(block)}})


def test_check_pending_passes_with_every_builtin_loaded():
    pm = make_plugin_manager(_settings())
    pm.check_pending()
    builtins = {name for name, info in pm.infos.items() if info.source == "built-in"}
    assert builtins == set(builtin_plugin_names())
    assert pm.builtin_names == builtin_plugin_names()
    assert {info.source for info in pm.infos.values() if info.name in builtins} == {"built-in"}
    assert BUILTIN_DISTRIBUTION == "colonnade"


def _dependents(name: str) -> set[str]:
    """The built-ins that (transitively) require ``name``: blocking it means blocking them too."""
    requires = {
        plugin: set(getattr(importlib.import_module(f"colonnade.plugins.{plugin}"), "requires", ()) or ())
        for plugin in builtin_plugin_names()
    }
    found = {name}
    while True:
        more = {plugin for plugin, needed in requires.items() if needed & found} - found
        if not more:
            return found
        found |= more


@pytest.mark.parametrize("name", builtin_plugin_names())
def test_check_pending_passes_with_each_builtin_blocked(name):
    blocked = _dependents(name)
    pm = make_plugin_manager(_settings(block=sorted(blocked)))
    pm.check_pending()
    assert not blocked & set(pm.infos)


# -- model descriptions ------------------------------------------------------------------------------

#: Tortoise puts a model's docstring (first line) and its fields' ``#:`` comments into the schema as
#: SQL comments, and its SQLite schema editor splits DDL on ``;``. The core makes them safe
#: (``db.sanitise_descriptions``), but built-in text should read as written: keep these out of it.
UNSAFE_IN_DESCRIPTIONS = (";", "'")


def builtin_models_modules() -> list[tuple[str, str]]:
    """``(app label, models module)`` for every built-in plugin's ``register_db_models``."""
    from colonnade.db import collect_db_models

    pm = make_plugin_manager(_settings())
    return sorted((label, module) for label, modules in collect_db_models(pm).items() for module in modules)


def _descriptions(module_name: str) -> list[tuple[str, str]]:
    """``(where, text)`` for every description Tortoise would turn into a comment in one models module."""
    from tortoise.models import Model

    module = importlib.import_module(module_name)
    found: list[tuple[str, str]] = []
    for model in vars(module).values():
        if not (isinstance(model, type) and issubclass(model, Model) and model.__module__ == module_name):
            continue
        if model.__doc__:
            found.append((f"{model.__name__} docstring", inspect.cleandoc(model.__doc__).split("\n")[0]))
        found.append((f"{model.__name__}._meta.table_description", model._meta.table_description or ""))
        for name, field in model._meta.fields_map.items():
            found.append((f"{model.__name__}.{name} #: comment", (field.docstring or "").split("\n")[0]))
            found.append((f"{model.__name__}.{name} description", field.description or ""))
    return found


def test_every_builtin_plugin_registers_models():
    labels = {label for label, _ in builtin_models_modules()}
    assert {"auth", "chats", "files", "models"} <= labels


@pytest.mark.parametrize(("label", "module"), builtin_models_modules())
def test_builtin_model_descriptions_have_no_semicolon_or_apostrophe(label, module):
    bad = [
        (where, text)
        for where, text in _descriptions(module)
        if any(character in text for character in UNSAFE_IN_DESCRIPTIONS)
    ]
    assert bad == [], f"{label}: reword these (no ';' or \"'\"): {bad}"


def _migration_descriptions(path: Path) -> list[str]:
    """The ``description=`` and ``"table_description"`` strings written in one migration file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.keyword) and node.arg == "description":
            found.append(str(getattr(node.value, "value", "")))
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "table_description":
                    found.append(str(getattr(value, "value", "")))
    return found


@pytest.mark.parametrize(("label", "module"), builtin_models_modules())
def test_builtin_migrations_carry_no_semicolon_or_apostrophe_in_descriptions(label, module):
    from colonnade.db import migrations_module_for

    migrations = migrations_module_for([module])
    assert migrations, f"{label} has no migrations package"
    folder = Path(importlib.import_module(migrations).__file__).parent
    bad = [
        (path.name, text)
        for path in sorted(folder.glob("[0-9]*.py"))
        for text in _migration_descriptions(path)
        if any(character in text for character in UNSAFE_IN_DESCRIPTIONS)
    ]
    assert bad == [], f"{label}: these migrations write unsafe descriptions: {bad}"
