"""The RAG template and how retrieved chunks are written into it as ``<source>`` tags."""

from __future__ import annotations

import re
from html import escape
from typing import Any

#: Our wording of Open WebUI's default: the task, guidelines, a citation example and output rules,
#: then the context in ``<context>`` tags.
DEFAULT_RAG_TEMPLATE = """### Task:
Answer the user's query using the context provided below. Cite a source inline as [id] (for example
[1]) only when the <source> tag it comes from carries an id attribute.

### Guidelines:
- If the context does not hold the answer, say so, then answer from what you know if you can.
- Do not invent sources or citations, and do not quote XML tags.
- Answer in the language of the user's query.
- Keep to what the query asks; be clear and direct.

### Example of a citation:
If the user asks about a topic and the answer is found in a source with id="1", write:
"The answer is this fact [1]."

### Output:
A clear, direct answer, with inline citations [id] where the context was used.

<context>
{{CONTEXT}}
</context>

<user_query>
{{QUERY}}
</user_query>
"""


PLACEHOLDERS = re.compile(r"\{\{CONTEXT\}\}|\[context\]|\{\{QUERY\}\}|\[query\]")


def source_tags(sources: list[dict[str, Any]]) -> str:
    """The ``<source id="N" name="...">chunk</source>`` tags of the sources, numbered 1, 2... per
    distinct source (chunks of one document share a number)."""
    tags = []
    numbers: dict[str, int] = {}
    for source in sources:
        item = source.get("source") or {}
        for document, metadata in zip(source.get("document", []), source.get("metadata", [])):
            key = str(metadata.get("source") or metadata.get("file_id") or item.get("id") or "")
            number = numbers.setdefault(key, len(numbers) + 1)
            name = metadata.get("name") or item.get("name") or key
            attributes = f'id="{number}" name="{escape(str(name))}"'
            if item.get("type"):
                attributes += f' resource-type="{escape(str(item["type"]))}"'
            if item.get("id"):
                attributes += f' resource-id="{escape(str(item["id"]))}"'
            tags.append(f"<source {attributes}>{document}</source>")
    return "\n".join(tags)


def fill(template: str, context: str, query: str) -> str:
    """The template with its context and query placeholders (current and legacy spellings) filled."""
    # One pass: placeholders inside the context or the query are left as they are.
    values = {"{{CONTEXT}}": context, "[context]": context, "{{QUERY}}": query, "[query]": query}
    return PLACEHOLDERS.sub(lambda match: values[match.group(0)], template)
