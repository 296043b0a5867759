"""Files: uploads streamed to a file store, downloads with ranges, and the ``register_file_stores`` hook."""
