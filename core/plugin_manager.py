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

#: The entry-point names our own distribution declares; used to tell built-in from third-party.
BUILTIN_PLUGINS: tuple[str, ...] = ()

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

    def register_plugin(self, plugin: Any, name: str, source: str, version: str | None = None) -> None:
        try:
            registered = self.register(plugin, name=name)
        except ValueError as error:
            raise StartupError(f"plugin {name!r} could not be registered: {error}") from None
        except pluggy.PluginValidationError as error:
            raise StartupError(f"plugin {name!r} is invalid: {error}") from None
        if registered is None:  # blocked
            return
        requires = tuple(getattr(plugin, "requires", ()) or ())
        self.infos[name] = PluginInfo(name, plugin, source, version, requires)

    def hooks_of(self, name: str) -> list[str]:
        plugin = self.get_plugin(name)
        return sorted(caller.name for caller in self.get_hookcallers(plugin) or [])


def _plugin_name(plugin: Any) -> str:
    return getattr(plugin, "name", None) or getattr(plugin, "__name__", None) or type(plugin).__name__


def make_plugin_manager(settings: Settings, extra: tuple[Any, ...] | list[Any] = ()) -> ColonnadePluginManager:
    """Build and validate the plugin manager for one application (see the module docstring)."""
    pm = ColonnadePluginManager()
    pm.add_hookspecs(hookspecs)
    pm.hook.add_hookspecs.call_historic(kwargs={"pm": pm})

    for name in settings.host.block_plugins:
        if name in ESSENTIAL_PLUGINS:
            raise StartupError(f"plugin {name} cannot be blocked: it is part of the core")
        pm.set_blocked(name)

    for name, module_path in ESSENTIAL_PLUGINS.items():
        pm.register_plugin(importlib.import_module(module_path), name, "core")

    _load_entry_points(pm, settings.host.load_plugins)

    for plugin in extra:
        name = _plugin_name(plugin).rsplit(".", 1)[-1]
        pm.register_plugin(plugin, name, "test")

    _check_requires(pm)
    _check_pending(pm)
    if settings.host.trace_hooks or os.environ.get("COLONNADE_TRACE_HOOKS") == "1":
        _enable_tracing(pm)
    return pm


def _load_entry_points(pm: ColonnadePluginManager, load_plugins: list[str]) -> None:
    from stevedore import NamedExtensionManager

    def load_failed(_manager: Any, entry_point: Any, error: Exception) -> None:
        raise StartupError(
            f"plugin {entry_point.name!r} ({entry_point.value}) failed to load: "
            f"{type(error).__name__}: {error}. Fix or uninstall it, or add it to [host] block_plugins."
        ) from error

    def missing(names: set[str]) -> None:
        first = sorted(names)[0]
        raise StartupError(
            f"plugin {first!r} named in [host] load_plugins is not installed"
            f"{did_you_mean(first, available)}"
        )

    # Blocked plugins are never imported, so a broken plugin can be switched off by configuration.
    available = _available_entry_points()
    wanted = available if load_plugins == ["*"] else load_plugins
    manager = NamedExtensionManager(
        ENTRY_POINT_GROUP,
        names=[name for name in wanted if not pm.is_blocked(name)],
        on_load_failure_callback=load_failed,
        on_missing_entrypoints_callback=missing,
        name_order=True,
    )
    for extension in manager:
        if extension.name in ESSENTIAL_PLUGINS:
            raise StartupError(f"plugin {extension.name!r} uses a name reserved for the core")
        if not isinstance(extension.plugin, ModuleType) and not hasattr(extension.plugin, "__dict__"):
            raise StartupError(f"plugin {extension.name!r} is not a module or object")
        dist = extension.entry_point.dist
        source = "built-in" if extension.name in BUILTIN_PLUGINS else (dist.name if dist else "unknown")
        version = dist.version if dist else None
        pm.register_plugin(extension.plugin, extension.name, source, version)


def _available_entry_points() -> list[str]:
    from importlib.metadata import entry_points

    return sorted({entry_point.name for entry_point in entry_points(group=ENTRY_POINT_GROUP)})


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
        raise StartupError(
            f"plugin {plugin_name!r} implements {hook}, which no loaded plugin defines; "
            f"enable the feature plugin that owns {hook} or block {plugin_name!r}"
        ) from None


def _enable_tracing(pm: ColonnadePluginManager) -> None:
    trace_log = logging.getLogger("colonnade.trace")

    def before(hook_name: str, hook_impls: list[Any], kwargs: dict[str, Any]) -> None:
        trace_log.warning("hook %s -> %s", hook_name, [impl.plugin_name for impl in hook_impls])

    def after(outcome: Any, hook_name: str, hook_impls: list[Any], kwargs: dict[str, Any]) -> None:
        trace_log.warning("hook %s done", hook_name)

    pm.add_hookcall_monitoring(before, after)
