"""Benchmark of the rag plugin: ingest rate, query latency at 10,000 and 100,000 chunks, and memory.

Run with ``.venv/bin/python bench/rag.py [--sizes 10000,100000] [--queries 200]
[--json PATH]``. It builds the real application in this process (``create_app``, the rag plugin, the
built-in LanceDB store in a temporary data directory) and drives the plugin's own code, so the
figures are the plugin's, not HTTP's:

- **ingest**: synthetic documents of about 80 chunks each go through ``Ingestor.ingest`` (chunking,
  embedding, storing with metadata) into one collection, four at a time. The embedding function is a fast
  deterministic one (word hashing into 384 buckets), and its time is measured and subtracted, so
  chunks/s "excluding embedding" is what the plugin and LanceDB cost;
- **upkeep**: past ``vector_index_min_rows`` (5,000) the store builds its vector index in the
  background and rebuilds it each time the collection doubles; once writes stop for
  ``settle_seconds`` (5) it compacts the collection and indexes every row. The script waits for that
  (the wait, quiet time included, is reported) and then queries;
- **query**: ``RagService.search`` over that collection (the query embedded, the store searched,
  results merged) for ``--queries`` random questions, vector-only and hybrid (full-text + vector,
  fused by rank): p50 and p99 in milliseconds, after a few warm-up queries;
- **memory**: the RSS of a fresh interpreter with the whole application built and started (every
  built-in plugin), before and after the first query, which is when LanceDB and pyarrow load.

Targets (issue 6): query p50 <= 20 ms at 100,000 chunks; ingest >= 2,000 chunks/s excluding embedding.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from colonnade import hookimpl

ROOT = Path(__file__).resolve().parents[1]
DIMENSION = 384
WORDS_PER_DOC = 8000  # about 80 chunks of 1,000 characters
CONCURRENT_INGESTS = 4


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class HashedWords:
    """A fast deterministic ``EmbeddingFunction``: each word adds 1 to one of 384 buckets, normalised."""

    name = "hashed"
    batch_size = 512

    def __init__(self) -> None:
        self.seconds = 0.0
        self.texts = 0
        self._buckets: dict[str, int] = {}

    def dimension(self, model: str) -> int | None:
        return DIMENSION

    async def embed(self, texts: Any, model: str) -> list[list[float]]:
        started = time.perf_counter()
        vectors = []
        for text in texts:
            vector = [0.0] * DIMENSION
            for word in text.lower().split():
                bucket = self._buckets.get(word)
                if bucket is None:
                    bucket = (
                        int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
                        % DIMENSION
                    )
                    self._buckets[word] = bucket
                vector[bucket] += 1.0
            norm = sum(value * value for value in vector) ** 0.5 or 1.0
            vectors.append([value / norm for value in vector])
        self.seconds += time.perf_counter() - started
        self.texts += len(texts)
        return vectors


class BenchPlugin:
    __name__ = "bench_rag"

    def __init__(self, function: HashedWords) -> None:
        self.function = function

    @hookimpl
    def register_embedding_functions(self, host: Any) -> list[Any]:
        return [self.function]


def vocabulary(size: int = 6000, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(size)]


def document(rng: random.Random, words: list[str]) -> str:
    """Sentences of 8 to 20 words, paragraphs of 3 to 6 sentences."""
    paragraphs, count = [], 0
    while count < WORDS_PER_DOC:
        sentences = []
        for _ in range(rng.randint(3, 6)):
            length = rng.randint(8, 20)
            sentences.append(" ".join(rng.choice(words) for _ in range(length)).capitalize() + ".")
            count += length
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


async def build(data_dir: str, function: HashedWords, load_all: bool = False) -> Any:
    from colonnade.app import create_app
    from colonnade.settings import Settings

    plugin = BenchPlugin(function)
    builtins = ["chats", "completions", "files", "models", "openai", "ollama", "rag"]
    settings = Settings.from_dict(
        {
            "server": {"data_dir": data_dir},
            "host": {"load_plugins": builtins if load_all else ["files", "rag"]},
            "plugins": {"rag": {"embedding_function": "hashed", "embedding_model": "words-384"}},
        }
    )
    app = create_app(settings, plugins=[plugin])
    return app


async def ingest(app: Any, function: HashedWords, target: int, rng: random.Random, words: list[str]) -> dict:
    """Ingest documents until the collection holds ``target`` chunks; return the rates."""
    rag = app.extensions["colonnade"].state("rag")
    collection = "bench-kb"
    stored = await rag.service.store.count(collection)
    function.seconds, function.texts = 0.0, 0
    started = time.perf_counter()
    documents = 0
    while stored < target:
        # A few documents at once, as several uploads would come.
        texts = [document(rng, words) for _ in range(CONCURRENT_INGESTS)]
        results = await asyncio.gather(
            *(
                rag.ingestor.ingest(
                    collection,
                    [(text, {})],
                    {"owner_id": f"user-{(documents + n) % 50}", "name": f"doc-{documents + n}.txt"},
                )
                for n, text in enumerate(texts)
            )
        )
        stored += sum(result.chunks for result in results)
        documents += len(texts)
    elapsed = time.perf_counter() - started
    chunks = function.texts
    return {
        "documents": documents,
        "chunks": chunks,
        "seconds": round(elapsed, 2),
        "embedding_seconds": round(function.seconds, 2),
        "chunks_per_s": round(chunks / elapsed),
        "chunks_per_s_excluding_embedding": round(chunks / max(elapsed - function.seconds, 1e-9)),
    }


async def queries(app: Any, count: int, rng: random.Random, words: list[str], *, hybrid: bool) -> dict:
    rag = app.extensions["colonnade"].state("rag").service
    questions = [" ".join(rng.choice(words) for _ in range(rng.randint(4, 10))) for _ in range(count + 5)]
    for question in questions[:5]:
        await rag.search(["bench-kb"], question, k=3, hybrid=hybrid)
    latencies = []
    for question in questions[5:]:
        started = time.perf_counter()
        hits = await rag.search(["bench-kb"], question, k=3, hybrid=hybrid)
        latencies.append((time.perf_counter() - started) * 1000)
        assert hits, "a query found nothing"
    latencies.sort()
    return {
        "queries": count,
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
        "mean_ms": round(statistics.fmean(latencies), 2),
    }


async def index_state(store: Any, name: str) -> list[dict]:
    table = store._tables[name]
    indices = await asyncio.to_thread(table.list_indices)
    return [
        {
            "name": index.name,
            "type": str(index.index_type),
            "indexed_rows": getattr(index, "num_indexed_rows", None),
            "unindexed_rows": getattr(index, "num_unindexed_rows", None),
            "segments": getattr(index, "num_segments", None),
        }
        for index in indices
    ]


async def run_scaling(sizes: list[int], count: int) -> list[dict]:
    rng, words = random.Random(11), vocabulary()
    function = HashedWords()
    results = []
    with tempfile.TemporaryDirectory(prefix="colonnade-bench-rag-") as data_dir:
        app = await build(data_dir, function)
        async with app.test_app():
            for size in sizes:
                rates = await ingest(app, function, size, rng, words)
                store = app.extensions["colonnade"].state("rag").service.store
                started = time.perf_counter()
                # The quiet-time upkeep: settle_seconds after the last write, compaction and a fresh
                # index over every row.
                await store.idle()
                rates["upkeep_wait_seconds"] = round(time.perf_counter() - started, 2)
                stored = await store.count("bench-kb")
                row = {
                    "chunks_stored": stored,
                    "vector_indexed": store._vector_indexed.get("bench-kb", False),
                }
                row["ingest"] = rates
                row["indexes"] = await index_state(store, "bench-kb")
                row["vector"] = await queries(app, count, rng, words, hybrid=False)
                row["hybrid"] = await queries(app, count, rng, words, hybrid=True)
                results.append(row)
                print(json.dumps(row), flush=True)
    return results


async def memory_probe(data_dir: str) -> dict:
    """Run in a fresh interpreter: RSS with every built-in plugin started, before and after one query."""
    function = HashedWords()
    app = await build(data_dir, function, load_all=True)
    async with app.test_app():
        rag = app.extensions["colonnade"].state("rag")
        idle = rss_mb()
        heavy_before = sorted(
            name for name in ("lancedb", "pyarrow", "numpy", "pypdf", "torch") if name in sys.modules
        )
        await rag.ingestor.ingest("probe", [("A few words to find again later on.", {})], {"owner_id": "u"})
        await rag.service.search(["probe"], "words to find", k=3)
        after = rss_mb()
        heavy_after = sorted(
            name for name in ("lancedb", "pyarrow", "numpy", "pypdf", "torch") if name in sys.modules
        )
    return {
        "idle_rss_mb": round(idle, 1),
        "after_first_query_rss_mb": round(after, 1),
        "heavy_modules_before": heavy_before,
        "heavy_modules_after": heavy_after,
    }


def memory() -> dict:
    with tempfile.TemporaryDirectory(prefix="colonnade-bench-rag-mem-") as data_dir:
        output = subprocess.run(
            [sys.executable, __file__, "--memory-probe", data_dir],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout
    return json.loads(output.strip().splitlines()[-1])


def render(results: dict) -> str:
    lines = [
        "| Chunks | Ingest chunks/s (all) | Ingest chunks/s (excl. embedding) | Upkeep after the burst s "
        "| Vector p50 / p99 ms | Hybrid p50 / p99 ms |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["scaling"]:
        ingest_row, vector, hybrid = row["ingest"], row["vector"], row["hybrid"]
        lines.append(
            f"| {row['chunks_stored']:,} | {ingest_row['chunks_per_s']:,} "
            f"| {ingest_row['chunks_per_s_excluding_embedding']:,} | {ingest_row['upkeep_wait_seconds']} "
            f"| {vector['p50_ms']} / {vector['p99_ms']} | {hybrid['p50_ms']} / {hybrid['p99_ms']} |"
        )
    memory_row = results["memory"]
    lines.append("")
    lines.append(
        f"Idle RSS with every built-in plugin started: {memory_row['idle_rss_mb']} MB "
        f"(heavy modules loaded: {memory_row['heavy_modules_before'] or 'none'}); after the first ingest and "
        f"query: {memory_row['after_first_query_rss_mb']} MB ({', '.join(memory_row['heavy_modules_after'])})."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="collection sizes (chunks) to measure at")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--memory-probe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    if args.memory_probe:
        print(json.dumps(asyncio.run(memory_probe(args.memory_probe))))
        return
    sizes = sorted(int(size) for size in args.sizes.split(","))
    results = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()},
        "memory": memory(),
    }
    print(json.dumps(results["memory"]), flush=True)
    results["scaling"] = asyncio.run(run_scaling(sizes, args.queries))
    print(render(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
