"""The LanceDB store when a collection is dropped, or changed by another worker, under a read or a write.

Each test forces its interleaving (a handle opened before the change, a read held in its thread
while the drop runs, a write queued behind a drop) instead of hoping a stress run hits it. Two
stores on one directory stand for two workers.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
import pytest_asyncio

from colonnade.plugins.rag import lance
from colonnade.plugins.rag.lance import LanceDBStore
from colonnade.plugins.rag.vectors import VectorRecord

pytestmark = pytest.mark.asyncio

NAME = "user-memory-u1"


def record(id: str, x: float) -> VectorRecord:
    return VectorRecord(id, f"text {id}", [x, 1.0 - x, 0.5], {"owner_id": "u1", "position": 0})


async def ids(store: LanceDBStore) -> list[str]:
    return sorted(record.id for record in await store.get(NAME))


@pytest_asyncio.fixture
async def stores(tmp_path: Any):
    """Two stores (workers) on one directory; the first holds a collection with ``a1`` and ``a2``."""
    first, second = LanceDBStore(tmp_path), LanceDBStore(tmp_path)
    await first.create_collection(NAME, 3, "e")
    await first.insert(NAME, [record("a1", 0.1), record("a2", 0.9)])
    yield first, second
    await first.close()
    await second.close()


async def test_a_handle_opened_before_another_workers_drop_and_create_reads_the_new_table(stores):
    first, second = stores
    assert [hit.id for hit in await first.query(NAME, [0.1, 0.9, 0.5], 5)] == ["a1", "a2"]  # handle kept
    await second.drop_collection(NAME)
    await second.create_collection(NAME, 3, "e")
    await second.insert(NAME, [record("b1", 0.5)])

    # The first store's handle still names the dropped table's files: it used to fail with
    # "Not found: .../data/<file>.lance" (a 502 from the memory routes) until a restart.
    assert [hit.id for hit in await first.query(NAME, [0.1, 0.9, 0.5], 5)] == ["b1"]
    assert await ids(first) == ["b1"]
    assert await first.count(NAME) == 1
    await first.upsert(NAME, [record("b2", 0.2)])
    assert await ids(second) == ["b1", "b2"]


async def test_another_workers_writes_and_compaction_are_read_at_once(stores):
    first, second = stores
    assert await ids(second) == ["a1", "a2"]  # the second store's handle is open
    await first.insert(NAME, [record("a3", 0.3)])
    await first.delete(NAME, {"id": ["a1"]})
    await first.optimize(NAME)  # compacts: the files the second handle read are replaced
    assert await ids(second) == ["a2", "a3"]
    assert [hit.id for hit in await second.query(NAME, [0.3, 0.7, 0.5], 1)] == ["a3"]


async def test_a_query_on_a_collection_another_worker_dropped_answers_empty(stores):
    first, second = stores
    assert await first.count(NAME) == 2
    await second.drop_collection(NAME)
    assert await first.query(NAME, [0.1, 0.9, 0.5], 5) == []
    assert await first.text_query(NAME, "text", 5) == []
    assert await first.get(NAME) == []
    assert await first.count(NAME) == 0


async def test_a_query_in_flight_while_its_collection_is_dropped_answers_empty(stores, monkeypatch):
    first, _ = stores
    reading, go_on = threading.Event(), threading.Event()
    search = lance.vector_rows

    def held_search(table: Any, *args: Any) -> Any:
        if not reading.is_set():  # the first attempt waits, in its thread, for the drop
            reading.set()
            go_on.wait(timeout=30)
        return search(table, *args)

    monkeypatch.setattr(lance, "vector_rows", held_search)
    query = asyncio.create_task(first.query(NAME, [0.1, 0.9, 0.5], 5))
    await asyncio.to_thread(reading.wait, 30)
    await first.drop_collection(NAME)
    go_on.set()
    assert await query == []


async def test_a_query_in_flight_while_its_collection_is_dropped_and_created_reads_the_new_one(
    stores, monkeypatch
):
    first, _ = stores
    reading, go_on = threading.Event(), threading.Event()
    read = lance.read_rows

    def held_read(table: Any, *args: Any) -> Any:
        if not reading.is_set():
            reading.set()
            go_on.wait(timeout=30)
        return read(table, *args)

    monkeypatch.setattr(lance, "read_rows", held_read)
    listing = asyncio.create_task(ids(first))
    await asyncio.to_thread(reading.wait, 30)
    await first.drop_collection(NAME)
    await first.create_collection(NAME, 3, "e")
    await first.insert(NAME, [record("c1", 0.5)])
    go_on.set()
    assert await listing == ["c1"]


async def test_a_write_queued_behind_a_drop_never_lands_in_the_table_created_after(stores, tmp_path):
    first, _ = stores
    assert await first.count(NAME) == 2  # the handle is open
    # The drop takes the collection's lock first; the upsert waits for it. It used to hold the
    # dropped table's handle already and commit through it after the drop: the table created
    # again under the name then pointed at files that were gone, for good.
    drop = asyncio.create_task(first.drop_collection(NAME))
    write = asyncio.create_task(first.upsert(NAME, [record("a1", 0.2)]))
    results = await asyncio.gather(drop, write, return_exceptions=True)
    assert results[0] is None
    assert isinstance(results[1], ValueError) and "create it first" in str(results[1])
    await first.create_collection(NAME, 3, "e")
    await first.insert(NAME, [record("d1", 0.5)])
    fresh = LanceDBStore(tmp_path)
    try:
        assert await ids(fresh) == ["d1"]
        assert [hit.id for hit in await fresh.query(NAME, [0.5, 0.5, 0.5], 5)] == ["d1"]
    finally:
        await fresh.close()


async def test_upkeep_at_work_when_the_collection_is_dropped_commits_nothing_after(tmp_path, monkeypatch):
    store = LanceDBStore(tmp_path, index_min_rows=8)
    building, go_on = threading.Event(), threading.Event()
    build = lance.build_vector_index

    def held_build(table: Any, rows: int) -> None:
        building.set()
        go_on.wait(timeout=30)
        build(table, rows)

    monkeypatch.setattr(lance, "build_vector_index", held_build)
    try:
        await store.create_collection(NAME, 3, "e")
        await store.insert(NAME, [record(f"r{i}", i / 10) for i in range(10)])  # starts the upkeep
        await asyncio.to_thread(building.wait, 30)
        drop = asyncio.create_task(store.drop_collection(NAME))
        await asyncio.sleep(0)  # let the drop take the lock and wait for the build (no timing)
        assert not drop.done()
        go_on.set()
        await drop
        await store.create_collection(NAME, 3, "e")
        await store.insert(NAME, [record("e1", 0.5)])
        await store.idle()
        assert await ids(store) == ["e1"]
        fresh = LanceDBStore(tmp_path)
        assert [hit.id for hit in await fresh.query(NAME, [0.5, 0.5, 0.5], 5)] == ["e1"]
        await fresh.close()
    finally:
        go_on.set()
        await store.close()
