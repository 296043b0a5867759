"""Retrieval-augmented generation and knowledge bases on LanceDB (being built: issue 6)."""
