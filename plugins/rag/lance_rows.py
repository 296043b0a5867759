"""How the LanceDB store lays collections out: the table schema, filters as SQL, rows and indexes.

Kept apart from :mod:`colonnade.plugins.rag.lance` (the store and its upkeep); ``pyarrow`` and
``lancedb`` are imported inside the functions, on first use.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from colonnade.plugins.rag.vectors import FILTER_FIELDS, Filter, VectorRecord, check_filter

#: The filterable metadata keys kept as columns (``id`` is a column of its own).
COLUMNS = tuple(key for key in FILTER_FIELDS if key != "id")
#: Schema metadata keys recording what made a collection's vectors.
EMBEDDING_KEY = b"colonnade.embedding"
DIMENSION_KEY = b"colonnade.dimension"
#: Columns read back for a search or a listing.
READ_COLUMNS = ["id", "text", *COLUMNS, "position", "metadata"]


def where_sql(where: Filter | None) -> str | None:
    """A filter as a LanceDB SQL predicate (values quoted, so any string is safe)."""
    clauses = []
    for key, values in check_filter(where).items():
        if not values:
            return "false"
        quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
        clauses.append(f"{key} = {quoted}" if len(values) == 1 else f"{key} IN ({quoted})")
    return " AND ".join(clauses) or None


def build_vector_index(table: Any, rows: int) -> None:
    from lancedb.index import BTree, IvfFlat

    partitions = max(1, min(4096, int(rows**0.5)))
    config = IvfFlat(distance_type="cosine", num_partitions=partitions, max_iterations=10, sample_rate=64)
    table.create_index("vector", config=config, replace=True)
    # Filters (a document's hash on every ingest, a file, an owner) then read an index, not every row.
    for column in ("hash", "file_id", "owner_id"):
        table.create_index(column, config=BTree(), replace=True)


def records_table(table_schema: Any, records: Sequence[VectorRecord]) -> Any:
    """The records as a ``pyarrow`` table of the collection's schema (vectors checked, ids unique)."""
    import pyarrow as pa

    dimension = table_schema.field("vector").type.list_size
    for record in records:
        if len(record.vector) != dimension:
            raise ValueError(
                f"record {record.id!r}: a vector of {len(record.vector)} numbers, not {dimension}"
            )
    ids = [record.id for record in records]
    if len(set(ids)) != len(ids):
        raise ValueError("two records share one id")
    columns: dict[str, Any] = {"id": ids, "text": [record.text for record in records]}
    flat = [value for record in records for value in record.vector]
    columns["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), dimension)
    for key in COLUMNS:
        columns[key] = [_optional_str(record.metadata.get(key)) for record in records]
    columns["position"] = [_optional_int(record.metadata.get("position")) for record in records]
    columns["metadata"] = [json.dumps(rest_of(record.metadata), default=str) for record in records]
    return pa.table({name: columns[name] for name in table_schema.names}, schema=table_schema)


def collection_schema(dimension: int, embedding: str) -> Any:
    import pyarrow as pa

    fields = [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string()),
        pa.field("vector", pa.list_(pa.float32(), dimension)),
        *(pa.field(key, pa.string()) for key in COLUMNS),
        pa.field("position", pa.int64()),
        pa.field("metadata", pa.string()),
    ]
    return pa.schema(
        fields, metadata={EMBEDDING_KEY: embedding.encode(), DIMENSION_KEY: str(dimension).encode()}
    )


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _optional_int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def rest_of(metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value for key, value in metadata.items() if key not in COLUMNS and key not in ("id", "position")
    }


def row_metadata(row: dict[str, Any]) -> dict[str, Any]:
    try:
        metadata = json.loads(row.get("metadata") or "{}")
    except ValueError:
        metadata = {}
    for key in COLUMNS:
        if row.get(key) is not None:
            metadata[key] = row[key]
    if row.get("position") is not None:
        metadata["position"] = row["position"]
    return metadata


def read_rows(
    table: Any, predicate: str | None, limit: int | None, with_vectors: bool
) -> list[dict[str, Any]]:
    """The rows matching ``predicate`` (all of them when ``limit`` is ``None``)."""
    query = table.search()
    if predicate is not None:
        query = query.where(predicate)
    query = query.limit(limit)
    if not with_vectors:
        query = query.select(READ_COLUMNS)
    return query.to_arrow().to_pylist()


def vector_rows(
    table: Any, vector: Sequence[float], k: int, predicate: str | None, nprobes: int | None
) -> list[dict[str, Any]]:
    """The ``k`` rows nearest to ``vector`` (cosine), with their ``_distance``."""
    query = table.search(list(vector), vector_column_name="vector").metric("cosine")
    if nprobes:
        query = query.nprobes(nprobes)
    if predicate is not None:
        query = query.where(predicate, prefilter=True)
    return query.select([*READ_COLUMNS, "_distance"]).limit(k).to_arrow().to_pylist()


def text_rows(table: Any, text: str, k: int, predicate: str | None) -> list[dict[str, Any]]:
    """The ``k`` rows best matching ``text`` by full-text search, with their ``_score``."""
    query = table.search(text, query_type="fts", fts_columns="text")
    if predicate is not None:
        query = query.where(predicate, prefilter=True)
    return query.select([*READ_COLUMNS, "_score"]).limit(k).to_arrow().to_pylist()


def build_text_index(table: Any) -> None:
    from lancedb.index import FTS

    table.create_index("text", config=FTS(with_position=False), replace=True)


def table_names(db: Any) -> list[str]:
    listed = db.list_tables()
    names = getattr(listed, "tables", listed)
    while getattr(listed, "page_token", None):
        listed = db.list_tables(page_token=listed.page_token)
        names = [*names, *listed.tables]
    return list(names)


def open_table(db: Any, name: str) -> tuple[Any, int, set[str]]:
    """The table, its row count and the names of its indexes."""
    table = db.open_table(name)
    indices = {getattr(index, "name", "") for index in table.list_indices()}
    return table, table.count_rows(), indices


def connect_database(uri: str, storage_options: dict[str, str]) -> Any:
    """A LanceDB connection whose tables look for a newer version before every read (a small
    listing), so that what other workers write, compact or drop is seen at once."""
    import lancedb

    if "://" not in uri:
        Path(uri).mkdir(parents=True, exist_ok=True)
    return lancedb.connect(
        uri, storage_options=storage_options or None, read_consistency_interval=timedelta(0)
    )
