"""A YouTube video's transcript, read the way YouTube's own clients find it.

1. ``GET <base>/watch?v=<id>``: the watch page. In the EU it may be a consent form first; the form's
   ``v`` value is sent back as the ``CONSENT`` cookie and the page fetched again.
2. The player response: ``POST <base>/youtubei/v1/player?key=<INNERTUBE_API_KEY>`` (the key is in the
   page's ``ytcfg``) as the Android client, whose caption URLs need no proof-of-origin token; else
   (no key, or no captions there) the page's own ``ytInitialPlayerResponse``.
3. Its ``captions.playerCaptionsTracklistRenderer.captionTracks``: one per language, ``kind: "asr"``
   for generated ones. The first configured language with a track wins (a manual track before a
   generated one; ``en`` also matches ``en-GB``).
4. ``GET`` the track's ``baseUrl``: timed text as XML (``<transcript><text start dur>``), ``srv3``
   XML (``<timedtext><body><p t d>``) or ``json3`` (``{"events": [{"segs": [{"utf8"}]}]}``).

Every request goes to the configured ``youtube_base_url`` (default ``https://www.youtube.com``): a
caption URL's path and query are kept, its origin replaced, so nothing else is ever fetched. The
video id is the only part of the user's URL that is used.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from colonnade.errors import ApiError
from colonnade.plugins.rag.web import fetch

VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
HOSTS = frozenset({
    "youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtu.be", "www.youtu.be",
    "youtube-nocookie.com", "www.youtube-nocookie.com",
})  # fmt: skip
PATH_PREFIXES = ("shorts", "embed", "live", "v", "e")
#: The Android client's player requests give caption URLs that need no proof-of-origin token.
ANDROID_CONTEXT = {"client": {"clientName": "ANDROID", "clientVersion": "20.10.38"}}
API_KEY = re.compile(r'"INNERTUBE_API_KEY":\s*"([A-Za-z0-9_-]+)"')
PLAYER_RESPONSE = re.compile(r"ytInitialPlayerResponse\s*=\s*")
CONSENT_FORM = 'action="https://consent.youtube.com/s"'
CONSENT_VALUE = re.compile(r'name="v" value="([^"]*)"')
HEADERS = {"Accept-Language": "en-US,en;q=0.9"}


def video_id(url: str) -> str | None:
    """The video id of a YouTube URL (``watch?v=``, ``youtu.be/``, ``/shorts/``, ``/embed/``,
    ``/live/``, ``/v/``), or ``None`` when ``url`` is not one."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or (parts.hostname or "") not in HOSTS:
        return None
    segments = [segment for segment in parts.path.split("/") if segment]
    if parts.hostname.endswith("youtu.be"):
        found = segments[0] if segments else None
    elif segments[:1] == ["watch"] or not segments:
        found = (parse_qs(parts.query).get("v") or [None])[0]
    elif len(segments) >= 2 and segments[0] in PATH_PREFIXES:
        found = segments[1]
    else:
        found = None
    return found if found and VIDEO_ID.match(found) else None


@dataclass
class Transcript:
    """A fetched transcript."""

    video_id: str
    language: str
    text: str
    title: str | None = None
    generated: bool = False
    segments: list[tuple[float, str]] = field(default_factory=list)


def pick_track(tracks: list[dict[str, Any]], languages: list[str]) -> dict[str, Any] | None:
    """The track of the first preferred language: exact code first, then a regional variant; a
    manual track before a generated one."""
    coded = [(track, str(track.get("languageCode", "")).lower()) for track in tracks]
    for language in languages:
        wanted = language.lower()
        exact = [track for track, code in coded if code == wanted]
        regional = [track for track, code in coded if code.split("-")[0] == wanted.split("-")[0]]
        for found in (exact, regional):
            if found:
                return min(found, key=lambda track: track.get("kind") == "asr")
    return None


def player_response_of(page: str) -> dict[str, Any] | None:
    """The ``ytInitialPlayerResponse`` object assigned in the watch page's script."""
    for match in PLAYER_RESPONSE.finditer(page):
        try:
            value, _ = json.JSONDecoder().raw_decode(page, match.end())
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def tracks_of(player: dict[str, Any] | None) -> list[dict[str, Any]]:
    captions = (player or {}).get("captions") or {}
    renderer = captions.get("playerCaptionsTracklistRenderer") or {}
    tracks = renderer.get("captionTracks") or []
    return [track for track in tracks if isinstance(track, dict) and isinstance(track.get("baseUrl"), str)]


def unplayable(player: dict[str, Any] | None) -> str | None:
    """Why the video cannot be played (``Video unavailable``...), or ``None``."""
    status = (player or {}).get("playabilityStatus") or {}
    if status.get("status") in (None, "OK"):
        return None
    return str(status.get("reason") or status.get("status"))


def parse_transcript(body: bytes) -> list[tuple[float, str]]:
    """``(start seconds, text)`` per caption of a timed-text document (XML, srv3 or json3)."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return []
    if text.startswith("{"):
        try:
            events = json.loads(text).get("events") or []
        except (ValueError, AttributeError):
            raise ApiError(400, "YouTube answered an unreadable transcript") from None
        found = []
        for event in events:
            if not isinstance(event, dict):
                continue
            words = "".join(
                str(seg.get("utf8", "")) for seg in event.get("segs") or () if isinstance(seg, dict)
            )
            if words.strip():
                found.append((float(event.get("tStartMs", 0)) / 1000, " ".join(words.split())))
        return found
    from xml.etree import ElementTree

    if "<!DOCTYPE" in text[:1000].upper():
        raise ApiError(400, "YouTube answered an unreadable transcript")  # no entity expansion
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        raise ApiError(400, "YouTube answered an unreadable transcript") from None
    found = []
    for node in root.iter():
        if node.tag == "text":  # the classic format: start and dur in seconds
            start = float(node.get("start") or 0)
        elif node.tag == "p":  # srv3: t and d in milliseconds, words in <s> children
            start = float(node.get("t") or 0) / 1000
        else:
            continue
        words = html.unescape("".join(node.itertext()))
        if words.strip():
            found.append((start, " ".join(words.split())))
    return found


def on_base(base_url: str, url: str) -> str:
    """``url``'s path and query on the configured base (caption URLs name YouTube's own host)."""
    parts = urlsplit(url)
    return base_url.rstrip("/") + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class YouTube:
    """Reads transcripts through ``client`` from ``base_url``.

    :param max_size: Largest response read (bytes).
    :param timeout: Seconds for each request.
    """

    def __init__(self, client: Any, base_url: str, *, max_size: int, timeout: float) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.max_size = max_size
        self.timeout = timeout

    async def get(self, url: str, **options: Any) -> bytes:
        page = await fetch(
            self.client, url, max_size=self.max_size, timeout=self.timeout, redirects=0, **options
        )
        return page.body

    async def watch_page(self, video: str) -> str:
        url = f"{self.base_url}/watch?{urlencode({'v': video})}"
        page = (await self.get(url, headers=HEADERS)).decode("utf-8", "replace")
        if CONSENT_FORM in page:
            value = CONSENT_VALUE.search(page)
            if value is None:
                raise ApiError(400, "YouTube asked for consent and gave no way to give it")
            cookie = {"Cookie": f"CONSENT=YES+{value.group(1)}"}
            page = (await self.get(url, headers={**HEADERS, **cookie})).decode("utf-8", "replace")
        return page

    async def players(self, video: str, page: str) -> list[dict[str, Any]]:
        """The player responses to look for captions in, best first."""
        found = []
        key = API_KEY.search(page)
        if key is not None:
            try:
                body = await self.get(
                    f"{self.base_url}/youtubei/v1/player?{urlencode({'key': key.group(1)})}",
                    method="POST",
                    headers=HEADERS,
                    json={"context": ANDROID_CONTEXT, "videoId": video},
                )
                player = json.loads(body)
                if isinstance(player, dict):
                    found.append(player)
            except (ApiError, ValueError):
                pass  # the page's own player response may still have captions
        in_page = player_response_of(page)
        if in_page is not None:
            found.append(in_page)
        return found

    async def transcript(self, video: str, languages: list[str]) -> Transcript:
        """The video's transcript in the first of ``languages`` it has.

        :raises ApiError: 400 when the video is unavailable or has no transcript in those languages.
        """
        page = await self.watch_page(video)
        players = await self.players(video, page)
        if not players:
            raise ApiError(400, f"YouTube gave no player response for video {video}")
        reason = next((why for why in map(unplayable, players) if why), None)
        playable = [player for player in players if unplayable(player) is None]
        if not playable:
            raise ApiError(400, f"The video {video} is not available: {reason}")
        available: set[str] = set()
        for player in playable:
            tracks = tracks_of(player)
            available.update(str(track.get("languageCode")) for track in tracks)
            track = pick_track(tracks, languages)
            if track is None:
                continue
            segments = parse_transcript(await self.get(on_base(self.base_url, track["baseUrl"])))
            if not segments:
                continue
            title = ((player.get("videoDetails") or {}).get("title")) or None
            return Transcript(
                video,
                str(track.get("languageCode")),
                " ".join(text for _, text in segments),
                title if isinstance(title, str) else None,
                track.get("kind") == "asr",
                segments,
            )
        wanted = ", ".join(languages)
        if not available:
            raise ApiError(400, f"No transcript is available for video {video}")
        raise ApiError(
            400,
            f"No transcript for video {video} in {wanted} (it has: {', '.join(sorted(available))})",
        )
