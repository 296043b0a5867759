"""Open WebUI Pipelines hosted in-house, and remote Pipelines servers (being built: issue 7)."""
