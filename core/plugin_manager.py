"""Build the per-application plugin manager: stevedore discovers, pluggy registers.

Steps, in order (DESIGN.md C3):

1. A fresh ``pluggy.PluginManager("colonnade")`` with the core hookspecs, and the historic
   ``add_hookspecs`` call so feature plugins add their specifications as they register.
2. ``block_plugins`` names are blocked; the essential core plugins refuse to be.
3. The essential plugins, which live in the core, are registered.
4. Entry points of the group ``colonnade.plugins`` (built-in and third-party alike) are loaded:
   every one for ``load_plugins = ["*"]``, otherwise exactly the named ones.
5. ``extra`` plugin objects (tests) are registered.
6. Each plugin's module-level ``requires`` is checked, then ``pm.check_pending()``.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from colonnade import hookspecs
from colonnade.errors import StartupError
from colonnade.registry import did_you_mean

if TYPE_CHECKING:
    from colonnade.settings import Settings

ENTRY_POINT_GROUP = "colonnade.plugins"

#: Core plugins that are always registered and cannot be blocked (pytest's ``essential_plugins``).
ESSENTIAL_PLUGINS: dict[str, str] = {
    "system": "colonnade.system",
    "auth": "colonnade.auth",
    "introspection": "colonnade.introspection",
}

#: The distribution whose entry points are the built-in plugins (``colonnade plugins`` says "built-in").
BUILTIN_DISTRIBUTION = "colonnade"

log = logging.getLogger("colonnade.plugins")


@dataclass
class PluginInfo:
    """What ``colonnade plugins`` and ``/api/plugins`` say about one registered plugin."""

    name: str
    plugin: Any
    source: str  # "core", "built-in", a distribution name, or "test"
    version: str | None = None
    requires: tuple[str, ...] = field(default_factory=tuple)


class ColonnadePluginManager(pluggy.PluginManager):
    """A pluggy manager that also remembers where each plugin came from."""

    def __init__(self) -> None:
        super().__init__("colonnade")
        self.infos: dict[str, PluginInfo] = {}
        #: Every installed entry point of the group, by name, read once per manager.
        self.entry_points: dict[str, Any] = {}
        #: Names two installed distributions declare (an error only if that plugin is to be loaded).
        self.clashes: dict[str, list[Any]] = {}
        #: Whether hook calls are logged (``[host] trace_hooks`` or ``COLONNADE_TRACE_HOOKS=1``).
        self.tracing = False

    def register_plugin(self, plugin: Any, name: str, source: str, version: str | None = None) -> None:
        taken = self.has_plugin(name) or self.is_registered(plugin)
        try:
            registered = self.register(plugin, name=name)
        except pluggy.PluginValidationError as error:
            raise StartupError(f"plugin {name!r} is invalid: {error}") from None
        except StartupError:
            raise
        except Exception as error:
            if isinstance(error, ValueError) and taken:
                raise StartupError(f"plugin {name!r} could not be registered: {error}") from None
            # Registering runs the plugin's historic hooks (add_hookspecs) at once.
            raise StartupError(
                f"plugin {name!r} failed in add_hookspecs: {type(error).__name__}: {error}"
            ) from error
        if registered is None:  # blocked
            return
        requires = tuple(getattr(plugin, "requires", ()) or ())
        self.infos[name] = PluginInfo(name, plugin, source, version, requires)

    def hooks_of(self, name: str) -> list[str]:
        plugin = self.get_plugin(name)
        return sorted(caller.name for caller in self.get_hookcallers(plugin) or [])

    @property
    def builtin_names(self) -> list[str]:
        """The entry-point names our own distribution declares (the built-in plugins)."""
        return sorted(
            name
            for name, entry_point in self.entry_points.items()
            if distribution_of(entry_point)[0] == BUILTIN_DISTRIBUTION
        )


def _plugin_name(plugin: Any) -> str:
    """The name an object passed as ``create_app(plugins=[...])`` registers under.

    A string ``name`` attribute, else ``__name__`` (a module's last dotted part, or a class attribute
    ``__name__ = "weather"`` on a plugin object), else the class name.
    """
    for attribute in ("name", "__name__"):
        value = getattr(plugin, attribute, None)
        if isinstance(value, str) and value:
            return value
    return type(plugin).__name__


def make_plugin_manager(settings: Settings, extra: tuple[Any, ...] | list[Any] = ()) -> ColonnadePluginManager:
    """Build and validate the plugin manager for one application (see the module docstring)."""
    pm = ColonnadePluginManager()
    found = installed_entry_points()
    pm.entry_points = {name: declared[0] for name, declared in found.items()}
    pm.clashes = {name: declared for name, declared in found.items() if len(declared) > 1}
    pm.add_hookspecs(hookspecs)
    pm.hook.add_hookspecs.call_historic(kwargs={"pm": pm})

    for name in settings.host.block_plugins:
        if name in ESSENTIAL_PLUGINS:
            raise StartupError(
                f"plugin {name!r} cannot be blocked: it is an essential part of the core; "
                f"remove it from [host] block_plugins"
            )
        if name not in pm.entry_points:
            log.warning(
                "[host] block_plugins names %r, which is not installed%s",
                name,
                did_you_mean(name, sorted(pm.entry_points)),
            )
        pm.set_blocked(name)

    for name, module_path in ESSENTIAL_PLUGINS.items():
        pm.register_plugin(importlib.import_module(module_path), name, "core")

    if settings.host.trace_hooks or _truthy(os.environ.get("COLONNADE_TRACE_HOOKS")):
        # Before any plugin registers, so even the historic add_hookspecs calls are logged.
        _enable_tracing(pm)

    _load_entry_points(pm, settings.host.load_plugins)

    for plugin in extra:
        name = _plugin_name(plugin).rsplit(".", 1)[-1]
        pm.register_plugin(plugin, name, "test")

    _check_requires(pm)
    _check_pending(pm)
    _check_firstresult_impls_are_sync(pm)
    return pm


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def installed_entry_points() -> dict[str, list[Any]]:
    """``{name: [EntryPoint, ...]}`` for the group (two only when two distributions clash), read from the installed distributions' metadata.

    Read fresh for every application: stevedore keeps a process-wide list per group, which would hide
    a distribution installed (or put on ``sys.path`` by a test) after the first application was built.
    Its entry points also lack ``.dist``, which says where a plugin came from.
    """
    from importlib.metadata import entry_points

    found: dict[str, Any] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry_point.name, []).append(entry_point)
    return found


def distribution_of(entry_point: Any) -> tuple[str | None, str | None]:
    """The name and version of the distribution declaring ``entry_point`` (``None`` when unknown).

    Read once per distribution: each ``Distribution.name`` or ``.version`` parses its metadata file
    again, and all the built-ins share one distribution.
    """
    dist = entry_point.dist
    if dist is None:
        return None, None
    known = _DISTRIBUTIONS.get(id(dist))
    if known is None or known[0] is not dist:
        metadata = dist.metadata
        known = _DISTRIBUTIONS[id(dist)] = (dist, metadata["Name"], metadata["Version"])
    return known[1], known[2]


#: ``id(dist) -> (dist, name, version)``; the distribution is kept so that its id stays its own.
_DISTRIBUTIONS: dict[int, tuple[Any, str, str]] = {}


def _distribution_label(entry_point: Any) -> str:
    name, version = distribution_of(entry_point)
    return f"{name} {version}" if name is not None else entry_point.value


def _load_entry_points(pm: ColonnadePluginManager, load_plugins: list[str]) -> None:
    from stevedore import NamedExtensionManager

    def load_failed(_manager: Any, entry_point: Any, error: Exception) -> None:
        raise StartupError(
            f"plugin {entry_point.name!r} ({entry_point.value}) failed to load: "
            f"{type(error).__name__}: {error}. Fix or uninstall it, or add it to [host] block_plugins."
        ) from error

    def missing(names: set[str]) -> None:
        first = min(names)
        raise StartupError(
            f"plugin {first!r} named in [host] load_plugins is not installed"
            f"{did_you_mean(first, available)}; install it or remove it from load_plugins"
        )

    from stevedore import ExtensionManager

    # stevedore caches each group's entry points for the life of the process; read them afresh.
    ExtensionManager.ENTRY_POINT_CACHE.pop(ENTRY_POINT_GROUP, None)
    available = sorted(pm.entry_points)
    wanted = available if "*" in load_plugins else load_plugins
    unknown = [name for name in wanted if name not in pm.entry_points]
    if unknown:
        missing(set(unknown))
    for name in wanted:
        _check_name(name)
        if name in pm.clashes and not pm.is_blocked(name):
            # One name, two plugins: which one loaded would depend on sys.path order.
            first, second = pm.clashes[name][:2]
            raise StartupError(
                f"two installed distributions declare the plugin {name!r}: {_distribution_label(first)} "
                f"and {_distribution_label(second)}; uninstall one of them"
            )
    # Blocked plugins are never imported, so a broken plugin can be switched off by configuration.
    manager = NamedExtensionManager(
        ENTRY_POINT_GROUP,
        names=[name for name in wanted if not pm.is_blocked(name)],
        on_load_failure_callback=load_failed,
        on_missing_entrypoints_callback=missing,
        name_order=True,
    )
    for extension in _dependencies_first(list(manager)):
        if extension.name in ESSENTIAL_PLUGINS:
            raise StartupError(f"plugin {extension.name!r} uses a name reserved for the core")
        if not isinstance(extension.plugin, ModuleType) and not hasattr(extension.plugin, "__dict__"):
            raise StartupError(f"plugin {extension.name!r} is not a module or object")
        distribution, version = distribution_of(pm.entry_points[extension.name])
        if distribution is None:
            source = "unknown"
        else:
            source = "built-in" if distribution == BUILTIN_DISTRIBUTION else distribution
        pm.register_plugin(extension.plugin, extension.name, source, version)


PLUGIN_NAME = re.compile(r"[a-z][a-z0-9_]*")

#: Top-level configuration sections; a plugin of that name would have no ``[plugins.<name>]`` of its own.
RESERVED_NAMES = ("server", "database", "host", "plugins")


def _check_name(name: str) -> None:
    """A plugin's name is also its config section, URL segment, table prefix and action prefix."""
    if not PLUGIN_NAME.fullmatch(name):
        raise StartupError(
            f"plugin name {name!r} is invalid: use lowercase letters, digits and underscores, starting "
            f"with a letter (the name is also its config section, URL segment and table prefix)"
        )
    if name in RESERVED_NAMES:
        raise StartupError(f"plugin name {name!r} is reserved for a core configuration section")


def _dependencies_first(extensions: list[Any]) -> list[Any]:
    """Order loaded extensions so each comes after the plugins it ``requires`` (else by name).

    Start-up hooks run in registration order, so ``images`` is ready before ``comfyui`` starts.
    """
    by_name = {extension.name: extension for extension in extensions}
    ordered: list[Any] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name not in by_name or by_name[name] in ordered or name in visiting:
            return  # missing requirements are reported by _check_requires; cycles keep name order
        visiting.add(name)
        for needed in getattr(by_name[name].plugin, "requires", ()) or ():
            visit(needed)
        visiting.discard(name)
        ordered.append(by_name[name])

    for name in sorted(by_name):
        visit(name)
    return ordered


def _check_requires(pm: ColonnadePluginManager) -> None:
    for info in pm.infos.values():
        for needed in info.requires:
            if not pm.has_plugin(needed):
                why = "is blocked" if pm.is_blocked(needed) else "is not loaded"
                raise StartupError(
                    f"plugin {info.name!r} requires plugin {needed!r}, which {why}; "
                    f"enable {needed!r} or block {info.name!r}"
                )


def _check_pending(pm: ColonnadePluginManager) -> None:
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as error:
        plugin_name = pm.get_name(error.plugin) or _plugin_name(error.plugin)
        hook = str(error).split("'")[1] if "'" in str(error) else "a hook"
        owner = _unloaded_owner_of(pm, hook)
        if owner is not None:
            state = "blocked" if pm.is_blocked(owner) else "not loaded"
            raise StartupError(
                f"plugin {plugin_name!r} implements {hook}, which belongs to plugin {owner!r} ({state}); "
                f"enable {owner!r} or block {plugin_name!r}"
            ) from None
        raise StartupError(
            f"plugin {plugin_name!r} implements {hook}, which no loaded plugin defines; "
            f"enable the feature plugin that owns {hook} or block {plugin_name!r}"
        ) from None


def _check_firstresult_impls_are_sync(pm: ColonnadePluginManager) -> None:
    """Refuse ``async def`` implementations of ``firstresult`` hooks (STYLE.md B1).

    Pluggy would take the coroutine object as the first result even when it resolves to ``None``,
    so the later implementations would silently never run.
    """
    import inspect

    for caller in pm.hook.__dict__.values():
        spec = getattr(caller, "spec", None)
        if spec is None or not spec.opts.get("firstresult"):
            continue
        for impl in caller.get_hookimpls():
            if inspect.iscoroutinefunction(impl.function) or inspect.isasyncgenfunction(impl.function):
                raise StartupError(
                    f"plugin {impl.plugin_name!r} implements {caller.name} with async def, but the first "
                    f"result of {caller.name} wins: make it a plain function that returns None to decline "
                    f"(or an awaitable to accept)"
                )


def _unloaded_owner_of(pm: ColonnadePluginManager, hook: str) -> str | None:
    """The installed but unloaded plugin whose ``hookspecs.py`` defines ``hook``, found without importing it.

    Only for the error message: a blocked plugin must stay unimported, so its specs are read as text.
    """
    import ast
    import importlib.util

    for name, entry_point in sorted(pm.entry_points.items()):
        if name in pm.infos:
            continue
        try:
            spec = importlib.util.find_spec(entry_point.module)  # imports parents only, not the plugin
        except (ImportError, ValueError):
            continue
        locations = list(spec.submodule_search_locations or []) if spec else []
        for location in locations:
            path = os.path.join(location, "hookspecs.py")
            try:
                with open(path, encoding="utf-8") as source:
                    tree = ast.parse(source.read())
            except (OSError, SyntaxError):
                continue
            if any(isinstance(node, ast.FunctionDef) and node.name == hook for node in tree.body):
                return name
    return None


TRACE_LOGGER = "colonnade.trace"


def _enable_tracing(pm: ColonnadePluginManager) -> None:
    """Log every hook call: which implementations run, with which arguments, and what they return.

    Logged at WARNING on ``colonnade.trace`` so it shows without any logging set-up; it is a debugging
    switch, off by default. Argument values are not logged (they may carry requests and secrets).
    """
    trace_log = logging.getLogger(TRACE_LOGGER)
    pm.tracing = True

    def before(hook_name: str, hook_impls: list[Any], kwargs: dict[str, Any]) -> None:
        trace_log.warning(
            "hook %s(%s) -> %s", hook_name, ", ".join(kwargs), [impl.plugin_name for impl in hook_impls]
        )

    def after(outcome: Any, hook_name: str, hook_impls: list[Any], kwargs: dict[str, Any]) -> None:
        if outcome.exception is not None:
            trace_log.warning("hook %s raised %s", hook_name, type(outcome.exception).__name__)
        else:
            trace_log.warning("hook %s returned %d result(s)", hook_name, _count(outcome.get_result()))

    pm.add_hookcall_monitoring(before, after)


def _count(result: Any) -> int:
    if isinstance(result, list):
        return len(result)
    return 0 if result is None else 1
