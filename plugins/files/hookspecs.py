"""Hook specifications owned by the ``files`` plugin (added through ``add_hookspecs``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from colonnade.hookspecs import hookspec

if TYPE_CHECKING:
    from colonnade.host import Host
    from colonnade.plugins.files.stores import FileStore


@hookspec
def register_file_stores(host: Host) -> list[FileStore]:
    """Register places where uploaded bytes can be kept.

    Called once when the ``files`` plugin starts. ``[plugins.files] store`` names the one store new
    uploads go to; every registered store stays available to serve the files it already holds.

    :param host: The application host (read your own ``[plugins.<name>]`` section through it).
    :return: A list of objects implementing :class:`colonnade.plugins.files.stores.FileStore`, each
        with a unique ``name``. Construction must be cheap and do no I/O: the selected store's
        optional ``start()`` is awaited at start-up and its optional ``close()`` at shutdown.

    Collect, sync. Implemented by: ``files`` (``local`` and ``s3``). A duplicate name, or a
    ``store`` setting naming no registered store, is a start-up error.

    Example::

        @hookimpl
        def register_file_stores(host):
            return [MemoryStore()]
    """
