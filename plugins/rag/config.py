"""``[plugins.rag]``: the vector store, the embedding, chunking, retrieval and the RAG template."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, model_validator

from colonnade.plugins.rag.template import DEFAULT_RAG_TEMPLATE


class RagConfig(BaseModel):
    """``[plugins.rag]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The registered vector store to use (``register_vector_stores``).
    vector_store: str = "lancedb"
    #: Where the store keeps its data: a directory, or an object-storage URI (``s3://bucket/prefix``)
    #: for several hosts. Default: ``<data dir>/vectors``.
    vector_store_uri: str | None = None
    #: Options handed to the store client (for LanceDB on object storage: ``aws_access_key_id``,
    #: ``aws_secret_access_key``, ``aws_endpoint``, ``aws_region``...).
    vector_store_options: dict[str, str] = Field(default_factory=dict)
    #: Chunks from which a LanceDB collection gets an approximate vector index (smaller ones are
    #: searched exhaustively). Built in the background once a collection grows past it.
    vector_index_min_rows: int = Field(5_000, ge=256)

    #: The registered embedding function (``local``, ``openai``, ``ollama``).
    embedding_function: str = "local"
    #: The model it is asked for (an upstream model id, or the local model name).
    embedding_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    #: The most texts sent to the embedding function at once.
    embedding_batch_size: int = Field(32, ge=1, le=2048)
    #: Batches in flight at once.
    embedding_concurrency: int = Field(2, ge=1, le=64)

    #: Characters per chunk and characters shared by neighbouring chunks (Open WebUI: 1000 and 100).
    chunk_size: int = Field(1000, ge=50, le=100_000)
    chunk_overlap: int = Field(100, ge=0)
    #: Split Markdown at headings before splitting by size (Open WebUI does by default).
    markdown_header_splitter: bool = True

    #: Chunks retrieved per query, and the lowest relevance (0..1) kept.
    top_k: int = Field(3, ge=1, le=1000)
    relevance_threshold: float = Field(0.0, ge=0.0, le=1.0)
    #: Fuse full-text (BM25) and vector ranks; ``hybrid_bm25_weight`` is the full-text share.
    hybrid_search: bool = False
    hybrid_bm25_weight: float = Field(0.5, ge=0.0, le=1.0)

    #: The prompt wrapped around retrieved context; ``{{CONTEXT}}`` and ``{{QUERY}}`` are filled in.
    template: str = DEFAULT_RAG_TEMPLATE
    #: Put the filled template into the system message instead of before the last user message.
    system_context: bool = False
    #: Index every uploaded file as soon as it arrives (``files.uploaded``).
    index_on_upload: bool = True
    #: Let every user create knowledge bases (Open WebUI: workspace.knowledge, off by default; a group
    #: granting ``workspace.knowledge`` lets its members create them too).
    users_can_create_knowledge: bool = False
    #: Largest file (bytes) whose text is extracted.
    max_extract_size: int = Field(64 * 1024 * 1024, ge=1)

    #: ``/process/web`` and ``/process/url`` fetch pages on private, loopback and link-local addresses
    #: too (off: public addresses only, so users cannot make the server reach its own network).
    web_loader_allow_private_addresses: bool = False
    #: Private networks fetched even when that is off (CIDR, e.g. an intranet's ``10.1.0.0/16``).
    web_loader_allowed_networks: list[IPvAnyNetwork] = Field(default_factory=list, max_length=100)
    #: Seconds a page may take to fetch, redirects included (and each request for a YouTube transcript).
    web_loader_timeout: float = Field(15.0, gt=0, le=300)
    #: Where YouTube is reached for transcripts, and their languages in order of preference.
    youtube_base_url: str = Field("https://www.youtube.com", pattern=r"^https?://[^/?#\s]+/?$")
    youtube_languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1, max_length=20)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> RagConfig:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        if "{{CONTEXT}}" not in self.template and "[context]" not in self.template:
            raise ValueError("template needs a {{CONTEXT}} placeholder")
        return self
