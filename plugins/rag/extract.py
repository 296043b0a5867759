"""Text out of uploaded files: plain text, Markdown, HTML, PDF, DOCX and CSV (and other text types).

Each extractor returns *sections*: ``(text, metadata)`` pairs (a PDF gives one per page, with
``page``), which are chunked one by one so a chunk never spans two pages. ``pypdf`` is imported on
first use; DOCX is read with the standard library (it is a zip of XML). The parsers (even the
standard library's) are imported when a file of their kind first comes, to keep start-up light.
"""

from __future__ import annotations

import codecs
import io
from typing import Any

Section = tuple[str, dict[str, Any]]

TEXT_EXTENSIONS = {
    "txt", "md", "markdown", "rst", "log", "json", "jsonl", "yaml", "yml", "toml", "ini", "cfg", "xml",
    "py", "js", "ts", "tsx", "jsx", "java", "c", "h", "cpp", "hpp", "cs", "go", "rs", "rb", "php", "sh",
    "sql", "css", "scss", "swift", "kt", "scala", "r", "lua", "pl", "tex", "srt", "vtt",
}  # fmt: skip
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
WORD_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


class ExtractionError(Exception):
    """The file's text could not be extracted; the message is the reason shown on the file."""


def kind_of(filename: str, content_type: str) -> str:
    """``pdf``, ``docx``, ``html``, ``csv``, ``text`` or ``unsupported``."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    content_type = (content_type or "").split(";")[0].strip().lower()
    if extension == "pdf" or content_type == "application/pdf":
        return "pdf"
    if extension == "docx" or content_type == DOCX_TYPE:
        return "docx"
    if extension in ("html", "htm", "xhtml") or content_type in ("text/html", "application/xhtml+xml"):
        return "html"
    if extension in ("csv", "tsv") or content_type in ("text/csv", "text/tab-separated-values"):
        return "csv"
    if extension in TEXT_EXTENSIONS or content_type.startswith("text/"):
        return "text"
    if content_type in ("application/json", "application/xml", "application/x-yaml", "application/x-sh"):
        return "text"
    return "unsupported"


def extract(data: bytes, filename: str, content_type: str) -> list[Section]:
    """The text sections of a file.

    :raises ExtractionError: an unsupported type, or a file that cannot be read as its type.
    """
    kind = kind_of(filename, content_type)
    try:
        if kind == "pdf":
            return pdf_sections(data)
        if kind == "docx":
            return [(docx_text(data), {})]
        if kind == "html":
            return [(html_text(decode(data)), {})]
        if kind == "csv":
            return [(csv_text(decode(data), tab=filename.lower().endswith(".tsv")), {})]
        if kind == "text":
            return [(decode(data), {})]
    except ExtractionError:
        raise
    except Exception as error:  # noqa: BLE001 - a broken file of any kind is the same failure to the user
        raise ExtractionError(
            f"could not read the {kind.upper()} file: {type(error).__name__}: {error}"
        ) from None
    raise ExtractionError(f"cannot extract text from files of type {content_type or 'unknown'} ({filename})")


def decode(data: bytes) -> str:
    """Bytes as text: UTF-8 (with or without BOM) or UTF-16 by BOM, else Latin-1 (never fails)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", "replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def pdf_sections(data: bytes) -> list[Section]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    sections = []
    for number, page in enumerate(reader.pages):
        text = page.extract_text() or ""
        if text.strip():
            sections.append((text, {"page": number, "total_pages": len(reader.pages)}))
    return sections


def docx_text(data: bytes) -> str:
    """Paragraph texts of ``word/document.xml`` (tables included, one paragraph per cell)."""
    import zipfile
    from xml.etree import ElementTree

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        root = ElementTree.fromstring(archive.read("word/document.xml"))
    paragraphs = []
    for paragraph in root.iter(f"{WORD_NS}p"):
        parts = []
        for node in paragraph.iter():
            if node.tag == f"{WORD_NS}t" and node.text:
                parts.append(node.text)
            elif node.tag == f"{WORD_NS}tab":
                parts.append("\t")
            elif node.tag in (f"{WORD_NS}br", f"{WORD_NS}cr"):
                parts.append("\n")
        paragraphs.append("".join(parts))
    return "\n\n".join(paragraph for paragraph in paragraphs if paragraph.strip())


def html_text(html: str) -> str:
    """The text of an HTML page, one line per block, without scripts, styles and templates."""
    from html.parser import HTMLParser

    class _TextOfHtml(HTMLParser):
        BLOCKS = frozenset({
            "p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header", "footer",
            "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "hr", "dd", "dt", "title",
        })  # fmt: skip
        SKIPPED = frozenset({"script", "style", "noscript", "template"})

        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.parts: list[str] = []
            self.skipping = 0

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            if tag in self.SKIPPED:
                self.skipping += 1
            if tag in self.BLOCKS:
                self.parts.append("\n")

        def handle_endtag(self, tag: str) -> None:
            if tag in self.SKIPPED and self.skipping:
                self.skipping -= 1
            if tag in self.BLOCKS:
                self.parts.append("\n")

        def handle_data(self, data: str) -> None:
            if not self.skipping:
                self.parts.append(data)

    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()


def csv_text(text: str, *, tab: bool = False) -> str:
    """One paragraph per row, ``column: value`` per line (as Open WebUI's CSV loader writes rows)."""
    import csv

    rows = list(csv.reader(io.StringIO(text), delimiter="\t" if tab else ","))
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    if not body:
        return ", ".join(header)
    paragraphs = []
    for row in body:
        names = header + [f"column {index + 1}" for index in range(len(header), len(row))]
        paragraphs.append("\n".join(f"{name.strip()}: {value.strip()}" for name, value in zip(names, row)))
    return "\n\n".join(paragraphs)
