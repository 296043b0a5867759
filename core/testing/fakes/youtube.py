"""A fake YouTube serving what a transcript reader fetches, shaped like the real responses.

Serve it with ``tube = await fake_upstream("youtube")`` and point ``[plugins.rag] youtube_base_url``
at ``tube.base_url``. It answers:

- ``GET /watch?v=<id>``: an HTML watch page with ``ytcfg.set({... "INNERTUBE_API_KEY": ...})`` and
  ``var ytInitialPlayerResponse = {...};`` (JSON with ``&`` and ``<`` escaped as YouTube does), whose
  ``captions.playerCaptionsTracklistRenderer.captionTracks[]`` have absolute ``baseUrl``\\ s; with
  ``control.consent`` on, a consent form (``action="https://consent.youtube.com/s"``) until the
  request carries a ``CONSENT=YES+...`` cookie;
- ``POST /youtubei/v1/player?key=<key>``: the same player response as JSON (400 for another key);
- ``GET /api/timedtext?v=&lang=&kind=[&fmt=]``: the track as timed-text XML
  (``<transcript><text start dur>``, texts HTML-escaped inside XML as YouTube does), ``fmt=srv3``
  (``<timedtext format="3"><body><p t d><s>``) or ``fmt=json3`` (``{"events": [{"segs"}]}``); an
  unknown track is an empty 200, as on YouTube.

An unknown video's player response has ``playabilityStatus: ERROR``. Tests script it through
``tube.app.control`` (:class:`FakeYouTube`)::

    control = tube.app.control
    control.videos["abcdefghijk"] = FakeVideo("abcdefghijk", "Title", [FakeTrack("de", [(0, 1.5, "Hallo")])])
    control.innertube = False        # no API key in the page: captions only from the page
    control.page_captions = False    # the page's player response lists no captions
    control.caption_format = "json3" # the fmt the caption URLs ask for
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import quoteattr

DEFAULT_KEY = "AIzaSyFake-Fake-Fake-Fake-Fake-Fake00"
DEFAULT_VIDEO = "fakeVideo01"


@dataclass
class FakeTrack:
    """One caption track: ``(start s, duration s, text)`` per caption; ``kind="asr"`` when generated."""

    language: str
    segments: list[tuple[float, float, str]]
    kind: str = ""
    name: str = ""


@dataclass
class FakeVideo:
    id: str
    title: str
    tracks: list[FakeTrack] = field(default_factory=list)
    #: ``OK``, ``ERROR`` (unavailable), ``LOGIN_REQUIRED`` (age-restricted, private), ``UNPLAYABLE``.
    status: str = "OK"
    reason: str | None = None


def default_videos() -> dict[str, FakeVideo]:
    return {
        DEFAULT_VIDEO: FakeVideo(
            DEFAULT_VIDEO,
            "A fake video about lighthouses",
            [
                FakeTrack(
                    "en",
                    [
                        (0.0, 2.5, "Welcome to the lighthouse tour."),
                        (2.5, 3.0, "Lighthouses guide ships & sailors home."),
                        (5.5, 2.0, "It's the keeper's job to light the lamp."),
                    ],
                    name="English",
                ),
                FakeTrack("en", [(0.0, 2.5, "welcome to the light house tour")], kind="asr"),
                FakeTrack("de", [(0.0, 2.5, "Willkommen zur Leuchtturmführung.")], name="Deutsch"),
            ],
        )
    }


@dataclass
class FakeYouTube:
    videos: dict[str, FakeVideo] = field(default_factory=default_videos)
    api_key: str = DEFAULT_KEY
    innertube: bool = True
    page_captions: bool = True
    consent: bool = False
    caption_format: str = ""

    def player(self, video_id: str, base_url: str) -> dict[str, Any]:
        video = self.videos.get(video_id)
        if video is None:
            return {"playabilityStatus": {"status": "ERROR", "reason": "This video is unavailable"}}
        player: dict[str, Any] = {
            "responseContext": {"visitorData": "Cgt2aXNpdG9y"},
            "playabilityStatus": {"status": video.status, "playableInEmbed": True},
            "videoDetails": {"videoId": video.id, "title": video.title, "lengthSeconds": "8"},
        }
        if video.reason:
            player["playabilityStatus"]["reason"] = video.reason
        if video.status != "OK" or not video.tracks:
            return player
        tracks = []
        for track in video.tracks:
            query = {
                "v": video.id,
                "ei": "fakeEi",
                "caps": "asr",
                "xoaf": "5",
                "hl": "en",
                "lang": track.language,
            }
            if track.kind:
                query["kind"] = track.kind
            if self.caption_format:
                query["fmt"] = self.caption_format
            name = track.name or f"{track.language} (auto-generated)"
            tracks.append({
                "baseUrl": f"{base_url}api/timedtext?{urlencode(query)}",
                "name": {"simpleText": name},
                "vssId": ("a." if track.kind == "asr" else ".") + track.language,
                "languageCode": track.language,
                **({"kind": track.kind} if track.kind else {}),
                "isTranslatable": True,
                "trackName": "",
            })  # fmt: skip
        player["captions"] = {
            "playerCaptionsTracklistRenderer": {
                "captionTracks": tracks,
                "audioTracks": [{"captionTrackIndices": list(range(len(tracks)))}],
                "translationLanguages": [{"languageCode": "fr", "languageName": {"simpleText": "French"}}],
                "defaultAudioTrackIndex": 0,
            }
        }
        return player

    def track(self, video_id: str, language: str, kind: str) -> FakeTrack | None:
        video = self.videos.get(video_id)
        for track in video.tracks if video else ():
            if track.language == language and track.kind == kind:
                return track
        return None


def as_script_json(value: Any) -> str:
    """JSON as YouTube writes it into a script: ``&``, ``<`` and ``>`` as ``\\u00XX`` escapes."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def timed_text(track: FakeTrack, fmt: str) -> tuple[str, str]:
    """The track's body and content type in the format ``fmt`` asks for."""
    if fmt == "json3":
        events = [
            {"tStartMs": int(start * 1000), "dDurationMs": int(duration * 1000), "segs": [{"utf8": text}]}
            for start, duration, text in track.segments
        ]
        return json.dumps({"wireMagic": "pb3", "events": events}), "application/json; charset=UTF-8"
    if fmt == "srv3":
        paragraphs = []
        for start, duration, text in track.segments:
            first, *rest = text.split(" ")
            words = [f'<s ac="0">{html.escape(first, quote=False)}</s>']
            words += [
                f'<s t="{100 * (n + 1)}" ac="0"> {html.escape(w, quote=False)}</s>'
                for n, w in enumerate(rest)
            ]
            paragraphs.append(
                f'<p t="{int(start * 1000)}" d="{int(duration * 1000)}" w="1">{"".join(words)}</p>'
            )
        body = f'<timedtext format="3"><body>{"".join(paragraphs)}</body></timedtext>'
        return f'<?xml version="1.0" encoding="utf-8" ?>{body}', "text/xml; charset=UTF-8"
    texts = "".join(
        f"<text start={quoteattr(f'{start:g}')} dur={quoteattr(f'{duration:g}')}>"
        # YouTube escapes the text as HTML, then again as XML (``I&amp;#39;m``).
        f"{html.escape(html.escape(text), quote=False)}</text>"
        for start, duration, text in track.segments
    )
    return (
        f'<?xml version="1.0" encoding="utf-8" ?><transcript>{texts}</transcript>',
        "text/xml; charset=UTF-8",
    )


CONSENT_PAGE = """<!DOCTYPE html><html><body><form action="https://consent.youtube.com/s" method="POST">
<input type="hidden" name="gl" value="DE"><input type="hidden" name="v" value="cb.20260101-00-p0.de+FX+123">
<button>Accept all</button></form></body></html>"""


def create_app() -> Any:
    from quart import Quart, Response, jsonify, request

    app = Quart("fake_youtube")
    control = app.control = FakeYouTube()  # type: ignore[attr-defined]

    @app.get("/watch")
    async def watch() -> Any:
        if control.consent and not request.cookies.get("CONSENT", "").startswith("YES+"):
            return Response(CONSENT_PAGE, content_type="text/html; charset=utf-8")
        video_id = request.args.get("v", "")
        player = control.player(video_id, request.host_url)
        if not control.page_captions:
            player.pop("captions", None)
        config = {"INNERTUBE_CLIENT_NAME": "WEB", "INNERTUBE_CLIENT_VERSION": "2.20260101.00.00"}
        if control.innertube:
            config["INNERTUBE_API_KEY"] = control.api_key
        page = (
            '<!DOCTYPE html><html lang="en"><head><title>YouTube</title>'
            f'<script nonce="n">ytcfg.set({as_script_json(config)});</script></head><body>'
            f'<script nonce="n">var ytInitialPlayerResponse = {as_script_json(player)};'
            "var meta = document.createElement('meta');</script>"
            '<script nonce="n">var ytInitialData = {"contents":{}};</script></body></html>'
        )
        return Response(page, content_type="text/html; charset=utf-8")

    @app.post("/youtubei/v1/player")
    async def player() -> Any:
        if not control.innertube:
            return Response("Not Found", status=404)
        if request.args.get("key") != control.api_key:
            error = {"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}}
            response = jsonify(error)
            response.status_code = 400
            return response
        body = await request.get_json(force=True, silent=True) or {}
        return jsonify(control.player(str(body.get("videoId", "")), request.host_url))

    @app.get("/api/timedtext")
    async def timedtext() -> Any:
        track = control.track(
            request.args.get("v", ""), request.args.get("lang", ""), request.args.get("kind", "")
        )
        if track is None:
            return Response("", content_type="text/html; charset=UTF-8")
        body, content_type = timed_text(track, request.args.get("fmt", ""))
        return Response(body, content_type=content_type)

    return app
