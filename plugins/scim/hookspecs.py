"""Hook specifications owned by the ``scim`` plugin (added through ``add_hookspecs``).

``scim_resource_types`` runs once, at start-up, and adds to what ``/ResourceTypes`` and ``/Schemas``
describe. ``scim_prepare_resource`` runs before every SCIM write (create, replace, patch, delete) of a
User or a Group. After the write the plugin emits ``scim.resource_changed`` (``ScimResourceChanged``)
through ``host.emit``; there is no separate post-write hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from colonnade.hookspecs import hookspec

if TYPE_CHECKING:
    from colonnade.actors import Actor
    from colonnade.host import Host
    from colonnade.plugins.scim.definitions import ScimResourceType


@hookspec
def scim_resource_types(host: Host) -> list[ScimResourceType]:
    """Describe extra SCIM resource types for the discovery endpoints.

    Called once when the ``scim`` plugin starts. Each returned resource type is listed by
    ``GET /scim/v2/ResourceTypes`` (and ``/ResourceTypes/<name>``), and its schema and schema
    extensions by ``GET /scim/v2/Schemas``. The plugin that returns one serves its endpoint itself
    (through ``register_blueprints``, under ``/scim/v2``, reusing ``colonnade.plugins.scim.auth``).

    :param host: The application host.
    :return: A list of :class:`colonnade.plugins.scim.definitions.ScimResourceType`.

    Collect, sync. A name or schema URN that is already described (``User``, ``Group`` or another
    plugin's) is a start-up error. Implemented by: no built-in plugin (``scim`` serves User and Group).
    """


@hookspec
def scim_prepare_resource(
    host: Host, resource_type: str, operation: str, resource: dict, actor: Actor
) -> Any:
    """Map, complete or veto a SCIM resource before it is written.

    Called once per SCIM write, after the request body was parsed (and, for ``patch``, after its
    operations were applied to the current resource) and before anything is stored.

    :param host: The application host.
    :param resource_type: ``"User"`` or ``"Group"``.
    :param operation: ``"create"``, ``"replace"``, ``"patch"`` or ``"delete"``.
    :param resource: The resource as it is about to be stored: a dict with the canonical attribute
        names (``userName``, ``name``, ``emails``, the enterprise extension under its URN...); change it
        in place. For ``delete`` it is the current resource and changes have no effect.
    :param actor: The SCIM client (``actor.credential == "scim_token"``).
    :return: Nothing. To refuse the write raise :class:`colonnade.plugins.scim.errors.ScimError`
        (answered in the SCIM error schema with its status and ``scimType``).

    Collect, awaitable, run sequentially in hook order; each impl sees the changes of the previous
    ones. The resource is validated again after the hooks ran. Implemented by: no built-in plugin.
    """
