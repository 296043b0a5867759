"""Splitting text into overlapping chunks, as Open WebUI's default (recursive character) splitter does.

Text is first cut at Markdown headings (kept in their section), then each section is cut recursively
at the coarsest separator that works (paragraphs, lines, words, characters) until every piece fits,
and neighbouring pieces are merged into chunks of at most ``size`` characters, each starting with up
to ``overlap`` characters of the chunk before. Every chunk records where it starts in the text
(``start_index``).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

SEPARATORS = ("\n\n", "\n", " ", "")
HEADING = re.compile(r"^#{1,6}[ \t]", re.MULTILINE)
FENCE = re.compile(r"^(```|~~~)", re.MULTILINE)


@dataclass
class Chunk:
    text: str
    start_index: int


def split_text(
    text: str, size: int = 1000, overlap: int = 100, *, markdown_headers: bool = True
) -> list[Chunk]:
    """The chunks of ``text`` (empty ones left out)."""
    if overlap >= size:
        raise ValueError("overlap must be smaller than size")
    sections = heading_sections(text) if markdown_headers else [(0, len(text))]
    chunks: list[Chunk] = []
    for start, end in sections:
        spans = _pieces(text, start, end, SEPARATORS, size)
        chunks.extend(_merge(text, spans, size, overlap))
    return chunks


def heading_sections(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each part of ``text`` that begins at a Markdown heading (outside code
    fences); the text before the first heading is a section too."""
    fenced: list[tuple[int, int]] = []
    marks = [match.start() for match in FENCE.finditer(text)]
    for index in range(0, len(marks) - 1, 2):
        fenced.append((marks[index], marks[index + 1]))
    cuts = [0]
    for match in HEADING.finditer(text):
        position = match.start()
        if position and not any(start < position < end for start, end in fenced):
            cuts.append(position)
    cuts.append(len(text))
    return [(start, end) for start, end in itertools.pairwise(cuts) if end > start]


def _pieces(text: str, start: int, end: int, separators: tuple[str, ...], size: int) -> list[tuple[int, int]]:
    """Contiguous spans covering ``[start, end)``, each at most ``size`` long, cut at the coarsest
    separator found (a separator stays at the end of the piece before it)."""
    if end - start <= size:
        return [(start, end)]
    for index, separator in enumerate(separators):
        if separator == "":
            return [(position, min(position + size, end)) for position in range(start, end, size)]
        if text.find(separator, start, end) == -1:
            continue
        spans: list[tuple[int, int]] = []
        position = start
        while position < end:
            found = text.find(separator, position, end)
            stop = end if found == -1 else found + len(separator)
            if stop - position <= size:
                spans.append((position, stop))
            else:
                spans.extend(_pieces(text, position, stop, separators[index + 1 :], size))
            position = stop
        return spans
    return [(start, end)]  # pragma: no cover - the empty separator always applies


def _merge(text: str, spans: list[tuple[int, int]], size: int, overlap: int) -> list[Chunk]:
    """Greedily join contiguous spans into chunks of at most ``size``, each new chunk starting with
    the last whole spans of the previous one that fit in ``overlap``."""
    chunks: list[Chunk] = []
    current: list[tuple[int, int]] = []
    for span in spans:
        if current and span[1] - current[0][0] > size:
            _emit(text, current[0][0], current[-1][1], chunks)
            while current and (current[-1][1] - current[0][0] > overlap or span[1] - current[0][0] > size):
                current.pop(0)
        current.append(span)
    if current:
        _emit(text, current[0][0], current[-1][1], chunks)
    return chunks


def _emit(text: str, start: int, end: int, chunks: list[Chunk]) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        chunks.append(Chunk(stripped, start + (len(piece) - len(piece.lstrip()))))
