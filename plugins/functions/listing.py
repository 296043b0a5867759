"""What functions add to ``GET /api/models``: each entry's ``actions`` and toggleable ``filters``.

Open WebUI's clients draw a button under an answer for each entry of a model's ``actions`` and a switch
for each of its ``filters`` (filters with ``toggle = True``, which run only when the request's
``filter_ids`` names them). Both come from the active functions that are global or that the model's
workspace record lists in ``meta.actionIds`` / ``meta.filterIds``, in priority order. An action with an
``actions`` list offers one button per entry, ``<function id>.<entry id>``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from colonnade.host import Host
    from colonnade.plugins.functions.runtime import Live


def icon_of(live: Live) -> Any:
    instance = live.loaded.instance
    manifest = live.meta.get("manifest") if isinstance(live.meta.get("manifest"), dict) else {}
    return manifest.get("icon_url") or getattr(instance, "icon_url", None) or getattr(instance, "icon", None)


def described(live: Live) -> dict[str, Any]:
    return {
        "id": live.id,
        "name": live.name,
        "description": live.meta.get("description"),
        "icon": icon_of(live),
    }


def action_buttons(live: Live) -> list[dict[str, Any]]:
    entries = getattr(live.loaded.instance, "actions", None)
    if not isinstance(entries, list) or not entries:
        return [described(live)]
    buttons = []
    for entry in entries:
        if isinstance(entry, dict) and entry.get("id") is not None:
            buttons.append(
                {
                    "id": f"{live.id}.{entry['id']}",
                    "name": entry.get("name") or f"{live.name} ({entry['id']})",
                    "description": live.meta.get("description"),
                    "icon": entry.get("icon_url") or icon_of(live),
                }
            )
    return buttons


def attached(entry: dict[str, Any], key: str) -> list[str]:
    info = entry.get("info") if isinstance(entry.get("info"), dict) else {}
    meta = info.get("meta") if isinstance(info.get("meta"), dict) else {}
    ids = meta.get(key)
    return ids if isinstance(ids, list) else []


async def decorate(host: Host, models: list[dict[str, Any]]) -> None:
    """Give every entry its ``actions`` and ``filters`` (replacing, never changing, the entries)."""
    registry = host.state("functions").registry
    actions = registry.of_kind("action")
    toggles = [live for live in registry.of_kind("filter") if live.toggle]
    for number, entry in enumerate(models):
        action_ids, filter_ids = attached(entry, "actionIds"), attached(entry, "filterIds")
        buttons = [
            button
            for live in actions
            if live.is_global or live.id in action_ids
            for button in action_buttons(live)
        ]
        switches = [described(live) for live in toggles if live.is_global or live.id in filter_ids]
        models[number] = {**entry, "actions": buttons, "filters": switches}
