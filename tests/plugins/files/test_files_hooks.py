"""The ``register_file_stores`` hook, store selection, events, and clean-up when a user is deleted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from colonnade import StartupError, hookimpl
from colonnade.plugins.files.stores import FileStore, StoreError

pytestmark = pytest.mark.asyncio


class MemoryStore:
    """A complete ``FileStore`` in a dict: what a third-party store plugin implements."""

    name = "memory"

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.started = False

    async def start(self) -> None:
        self.started = True

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, content_type: str) -> int:
        data = bytearray()
        async for chunk in chunks:
            data += chunk
        self.objects[key] = bytes(data)  # visible only once complete
        return len(data)

    async def open(self, key: str, start: int = 0, stop: int | None = None) -> AsyncIterator[bytes]:
        data = self.objects.get(key, b"")[start:stop]
        for offset in range(0, len(data), 7):  # several chunks, to exercise streaming
            yield data[offset : offset + 7]

    async def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    async def size(self, key: str) -> int | None:
        return len(self.objects[key]) if key in self.objects else None


class LeakyStore(MemoryStore):
    """A store that fails after keeping part of the upload under the key: the plugin must clean up."""

    name = "leaky"

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, content_type: str) -> int:
        async for chunk in chunks:
            self.objects[key] = self.objects.get(key, b"") + chunk
            raise StoreError("disk on fire")
        return 0


class StorePlugin:
    __name__ = "store_plugin"

    def __init__(self, *stores) -> None:
        self.stores = stores

    @hookimpl
    def register_file_stores(self, host):
        return list(self.stores)


async def test_hook_register_file_stores(files_app, auth_headers):
    store = MemoryStore()
    files = await files_app({"store": "memory"}, plugins=[StorePlugin(store)])
    assert store.started
    assert files.service.store is store
    assert set(files.service.stores) == {"local", "s3", "memory"}
    headers = await auth_headers(files.app)

    record = await (await files.upload(headers, b"kept in memory, not on disk")).get_json()
    assert record["path"] == f"memory://{record['id'][:2]}/{record['id']}"
    assert list(store.objects.values()) == [b"kept in memory, not on disk"]
    assert files.stored_files() == []
    whole = await files.client.get(f"/api/files/{record['id']}", headers=headers)
    assert await whole.get_data() == b"kept in memory, not on disk"
    part = await files.client.get(f"/api/files/{record['id']}", headers={**headers, "Range": "bytes=8-13"})
    assert (part.status_code, await part.get_data()) == (206, b"memory")
    await files.client.delete(f"/api/files/{record['id']}", headers=headers)
    assert store.objects == {}


async def test_files_stay_readable_from_their_store_after_the_default_changes(
    files_app, auth_headers, make_app
):
    files = await files_app()
    headers = await auth_headers(files.app)
    record = await (await files.upload(headers, b"on disk")).get_json()
    store = MemoryStore()
    files.service.stores.add("memory", store)
    files.service.store = store  # as if restarted with store = "memory"
    newer = await (await files.upload(headers, b"in memory")).get_json()
    assert (
        await (await files.client.get(f"/api/files/{record['id']}", headers=headers)).get_data() == b"on disk"
    )
    assert (
        await (await files.client.get(f"/api/files/{newer['id']}", headers=headers)).get_data()
        == b"in memory"
    )


async def test_a_store_failing_mid_upload_leaves_no_record_and_no_bytes(files_app, auth_headers):
    store = LeakyStore()
    files = await files_app({"store": "leaky"}, plugins=[StorePlugin(store)])
    headers = await auth_headers(files.app)
    response = await files.upload(headers, b"a" * 200_000)
    assert response.status_code == 502
    assert await response.get_json() == {"detail": "The file store failed; try again later"}
    assert store.objects == {}
    assert await files.record_count() == 0


async def test_an_unknown_store_name_stops_the_start(files_app):
    with pytest.raises(StartupError, match="unknown file store 'memroy' — did you mean 'memory'"):
        await files_app({"store": "memroy"}, plugins=[StorePlugin(MemoryStore())])


async def test_duplicate_store_names_stop_the_start(files_app):
    with pytest.raises(StartupError, match="duplicate file store name: 'memory'"):
        await files_app(plugins=[StorePlugin(MemoryStore(), MemoryStore())])


async def test_s3_store_without_its_settings_stops_the_start(files_app):
    with pytest.raises(StartupError, match=r"needs plugins\.files\.s3\.endpoint_url"):
        await files_app({"store": "s3"})


async def test_the_builtin_stores_implement_the_protocol(files_app):
    files = await files_app()
    for name in ("local", "s3"):
        assert isinstance(files.service.stores[name], FileStore)


class Recorder:
    __name__ = "recorder"

    def __init__(self) -> None:
        self.events = []

    @hookimpl
    def on_event(self, event):
        if event.name.startswith("files."):
            self.events.append(event)


async def test_uploads_and_deletes_emit_events(files_app, auth_headers):
    recorder = Recorder()
    files = await files_app(plugins=[recorder])
    headers = await auth_headers(files.app)
    record = await (await files.upload(headers, b"12345", filename="a.txt")).get_json()
    await files.client.delete(f"/api/files/{record['id']}", headers=headers)
    uploaded, deleted = recorder.events
    assert (uploaded.name, uploaded.file_id, uploaded.user_id, uploaded.filename, uploaded.size) == (
        "files.uploaded",
        record["id"],
        record["user_id"],
        "a.txt",
        5,
    )
    assert uploaded.content_type == "text/plain" and uploaded.actor.id == record["user_id"]
    assert (deleted.name, deleted.file_id, deleted.user_id) == (
        "files.deleted",
        record["id"],
        record["user_id"],
    )


async def test_refused_uploads_emit_nothing(files_app, auth_headers):
    recorder = Recorder()
    files = await files_app({"max_size": 10}, plugins=[recorder])
    headers = await auth_headers(files.app)
    assert (await files.upload(headers, b"x" * 11)).status_code == 413
    assert recorder.events == []


async def test_deleting_a_user_deletes_their_files_and_bytes(files_app, auth_headers):
    files = await files_app()
    admin = await auth_headers(files.app, role="admin")
    user = await auth_headers(files.app)
    keeper = (await (await files.upload(admin, b"admin's")).get_json())["id"]
    record = await (await files.upload(user, b"user's")).get_json()
    assert len(files.stored_files()) == 2
    response = await files.client.delete(f"/api/users/{record['user_id']}", headers=admin)
    assert response.status_code == 200
    assert await files.record_count() == 1
    assert files.stored_files() == [files.uploads_dir / keeper[:2] / keeper]
