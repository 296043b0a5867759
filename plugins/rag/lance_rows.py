"""How the LanceDB store lays collections out: the table schema, filters as SQL, rows and indexes.

Kept apart from :mod:`colonnade.plugins.rag.lance` (the store and its upkeep); ``pyarrow`` and
``lancedb`` are imported inside the functions, on first use.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
