"""Built-in feature plugins, each a package declared as an entry point in the group ``colonnade.plugins``."""
