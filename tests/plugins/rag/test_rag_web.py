"""Loading URLs into collections: ``/api/v1/retrieval/process/{web,youtube,url}``, the web fetcher's
address guard, web search (off) and the resets. Pages come from a site served on loopback, YouTube
from ``colonnade.testing.fakes.youtube``."""

from __future__ import annotations

import hashlib
import socket

import pytest
from quart import Quart, Response, redirect, request
from rag_helpers import WordEmbeddings, pdf_bytes

from colonnade.plugins.rag.youtube import parse_transcript, video_id
from colonnade.testing import closed_port
from colonnade.testing.fakes.youtube import FakeTrack, FakeVideo

PAGE = """<!DOCTYPE html><html><head><title>Lighthouses</title><style>p {color: red}</style>
<script>var tracking = "ignore me";</script></head><body><h1>Lighthouses</h1>
<p>A lighthouse keeper tends the lamp every night.</p><p>Ships &amp; sailors rely on it.</p></body></html>"""
WATCH = "https://www.youtube.com/watch?v=fakeVideo01"
ENGLISH = (
    "Welcome to the lighthouse tour. Lighthouses guide ships & sailors home. "
    "It's the keeper's job to light the lamp."
)


def site() -> Quart:
    """The web as the tests see it: a few pages, failures and redirects on one loopback server."""
    app = Quart("site")
    app.changing = "The first version talks about whales."  # type: ignore[attr-defined]

    @app.get("/page.html")
    async def page():
        return Response(PAGE, content_type="text/html; charset=utf-8")

    @app.get("/report")
    async def report():
        return Response(
            pdf_bytes("Quarterly lighthouse report", "Second page on lamps"), content_type="application/pdf"
        )

    @app.get("/cyrillic")
    async def cyrillic():
        return Response("Маяк светит ночью".encode("cp1251"), content_type="text/plain; charset=windows-1251")

    @app.get("/changing")
    async def changing():
        return Response(app.changing, content_type="text/plain")  # type: ignore[attr-defined]

    @app.get("/big")
    async def big():
        return Response("lamp " * 1000, content_type="text/plain")

    @app.get("/big-stream")
    async def big_stream():
        async def pieces():
            for _ in range(10):
                yield b"lamp " * 100

        return Response(pieces(), content_type="text/plain")

    @app.get("/image.png")
    async def image():
        return Response(b"\x89PNG\r\n\x1a\n" + bytes(100), content_type="image/png")

    @app.get("/scripts-only.html")
    async def scripts_only():
        return Response("<html><script>nothing here</script></html>", content_type="text/html")

    @app.get("/missing")
    async def missing():
        return Response("gone", status=404)

    @app.get("/broken")
    async def broken():
        return Response("oops", status=500)

    @app.get("/redirect")
    async def to():
        return redirect(request.args["to"], 302)

    @app.get("/loop/<int:n>")
    async def loop(n: int):
        return redirect(f"/loop/{n + 1}", 301)

    return app


async def started(rag_app, auth_headers, fake_upstream, **config):
    web = await fake_upstream(site())
    tube = await fake_upstream("youtube")
    rag = {"index_on_upload": False, "users_can_create_knowledge": True, "youtube_base_url": tube.base_url}
    app = await rag_app({**rag, **config}, functions=[WordEmbeddings()])
    client = app.test_client()
    alice = await auth_headers(app, user_id="alice-id")
    return app, client, web, tube, alice


async def post(client, path, headers, **body):
    response = await client.post(f"/api/v1/retrieval/{path}", json=body, headers=headers)
    return response.status_code, await response.get_json()


async def search(client, headers, collection, query):
    status, body = await post(client, "query/collection", headers, collection_names=[collection], query=query)
    assert status == 200, body
    return body["documents"][0]


# -- /process/web -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_process_web_fetches_extracts_and_stores_a_page(rag_app, auth_headers, fake_upstream):
    _, client, web, _, alice = await started(
        rag_app, auth_headers, fake_upstream, web_loader_allow_private_addresses=True
    )
    url = f"{web.base_url}/page.html"
    status, body = await post(client, "process/web", alice, url=url)
    assert status == 200, body
    content = (
        "Lighthouses\n\nLighthouses\n\nA lighthouse keeper tends the lamp every night.\n\n"
        "Ships & sailors rely on it."
    )
    assert body == {
        "status": True,
        "collection_name": hashlib.sha256(url.encode()).hexdigest()[:63],
        "filename": url,
        "content": content,
        "file": {"data": {"content": content}, "meta": {"name": url, "source": url}},
    }
    assert "ignore me" not in content and "color" not in content
    status, found = await post(
        client, "query/collection", alice, collection_names=[body["collection_name"]], query="keeper"
    )
    assert found["documents"] == [[content]] and found["metadatas"][0][0]["source"] == url

    # A PDF by its Content-Type (one section per page), a named collection, another charset.
    status, pdf = await post(
        client, "process/web", alice, url=f"{web.base_url}/report", collection_name="reports"
    )
    assert status == 200 and pdf["collection_name"] == "reports"
    assert pdf["content"] == "Quarterly lighthouse report\n\nSecond page on lamps"
    status, text = await post(client, "process/web", alice, url=f"{web.base_url}/cyrillic")
    assert status == 200 and text["content"] == "Маяк светит ночью"


@pytest.mark.asyncio
async def test_loading_a_changed_page_again_replaces_its_chunks(rag_app, auth_headers, fake_upstream):
    app, client, web, _, alice = await started(
        rag_app, auth_headers, fake_upstream, web_loader_allow_private_addresses=True
    )
    url = f"{web.base_url}/changing"
    await post(client, "process/web", alice, url=url, collection_name="pages")
    await post(client, "process/web", alice, url=url, collection_name="pages")  # unchanged: skipped
    web.app.changing = "The second version talks about lamps."
    _, second = await post(client, "process/web", alice, url=url, collection_name="pages")
    assert second["content"] == "The second version talks about lamps."
    store = app.extensions["colonnade"].state("rag").service.store
    records = await store.get("pages", {"source": url})
    assert [record.text for record in records] == ["The second version talks about lamps."]
    assert await search(client, alice, "pages", "whales") == ["The second version talks about lamps."]


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/missing", "failed: 404 Not Found"),
        ("/broken", "failed: 500 Internal Server Error"),
        ("/image.png", "cannot extract text from files of type image/png"),
        ("/scripts-only.html", "The content provided is empty"),
        ("/loop/0", "more than 5 redirects"),
    ],
)
@pytest.mark.asyncio
async def test_upstream_failures_are_400s(rag_app, auth_headers, fake_upstream, path, detail):
    app, client, web, _, alice = await started(
        rag_app, auth_headers, fake_upstream, web_loader_allow_private_addresses=True
    )
    status, body = await post(client, "process/web", alice, url=web.base_url + path)
    assert status == 400 and detail in body["detail"], body
    assert await app.extensions["colonnade"].state("rag").service.store.list_collections() == []


@pytest.mark.asyncio
async def test_unreachable_and_silent_hosts_are_400s(rag_app, auth_headers, fake_upstream):
    _, client, _, _, alice = await started(
        rag_app, auth_headers, fake_upstream, web_loader_allow_private_addresses=True, web_loader_timeout=0.2
    )
    port = closed_port()  # nothing listens there: the connection is refused
    status, body = await post(client, "process/web", alice, url=f"http://127.0.0.1:{port}/page")
    assert status == 400 and body["detail"].startswith(f"Fetching from 127.0.0.1:{port} failed")

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # the kernel accepts the connection; nobody ever answers
    try:
        status, body = await post(
            client, "process/web", alice, url=f"http://127.0.0.1:{silent.getsockname()[1]}/"
        )
    finally:
        silent.close()
    assert status == 400 and "timed out after 0.2 s" in body["detail"]


@pytest.mark.parametrize("path", ["/big", "/big-stream"])
@pytest.mark.asyncio
async def test_pages_over_the_size_limit_are_refused(rag_app, auth_headers, fake_upstream, path):
    _, client, web, _, alice = await started(
        rag_app, auth_headers, fake_upstream, web_loader_allow_private_addresses=True, max_extract_size=1000
    )
    status, body = await post(client, "process/web", alice, url=web.base_url + path)
    assert status == 400 and body["detail"] == f"The page at {web.base_url[7:]} is larger than 1000 bytes"


# -- the address guard --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/page.html",
        "http://localhost:{port}/page.html",
        "http://[::1]:{port}/page.html",
        "http://[::ffff:127.0.0.1]:{port}/page.html",
        "http://0.0.0.0:{port}/page.html",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
    ],
)
@pytest.mark.asyncio
async def test_private_addresses_are_refused_by_default(rag_app, auth_headers, fake_upstream, url):
    app, client, web, _, alice = await started(rag_app, auth_headers, fake_upstream)
    port = web.base_url.rsplit(":", 1)[1]
    status, body = await post(client, "process/web", alice, url=url.format(port=port))
    assert status == 400 and body["detail"].startswith("Refusing to fetch from"), body
    assert "private, loopback or link-local" in body["detail"]
    assert web.requests == []
    assert await app.extensions["colonnade"].state("rag").service.store.list_collections() == []


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("file:///etc/passwd", "Only http and https URLs are fetched"),
        ("ftp://example.com/file.txt", "Only http and https URLs are fetched"),
        ("gopher://127.0.0.1:70/", "Only http and https URLs are fetched"),
        ("http:///no-host", "Invalid URL: no host"),
        ("http://example.com:99999/", "Invalid URL"),
        ("not a url", "Only http and https URLs are fetched"),
    ],
)
@pytest.mark.asyncio
async def test_other_schemes_and_malformed_urls_are_refused(
    rag_app, auth_headers, fake_upstream, url, detail
):
    _, client, _, _, alice = await started(
        rag_app, auth_headers, fake_upstream, web_loader_allow_private_addresses=True
    )
    status, body = await post(client, "process/web", alice, url=url)
    assert status == 400 and body["detail"] == detail


@pytest.mark.asyncio
async def test_every_redirect_hop_is_checked_again(rag_app, auth_headers, fake_upstream):
    # Only the site's own address is allowed: a redirect elsewhere on loopback must be refused.
    _, client, web, _, alice = await started(
        rag_app, auth_headers, fake_upstream, web_loader_allowed_networks=["127.0.0.1/32"]
    )
    port = web.base_url.rsplit(":", 1)[1]
    status, body = await post(client, "process/web", alice, url=f"{web.base_url}/redirect?to=/page.html")
    assert status == 200 and "lighthouse keeper" in body["content"]
    for target in (f"http://127.0.0.2:{port}/page.html", "http://169.254.169.254/", f"http://[::1]:{port}/"):
        status, body = await post(client, "process/web", alice, url=f"{web.base_url}/redirect?to={target}")
        assert status == 400 and body["detail"].startswith("Refusing to fetch from"), (target, body)
    status, body = await post(
        client, "process/web", alice, url=f"{web.base_url}/redirect?to=file:///etc/passwd"
    )
    assert status == 400 and body["detail"] == "Only http and https URLs are fetched"


# -- who may write where ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_user_cannot_load_into_someone_elses_knowledge_base(rag_app, auth_headers, fake_upstream):
    app, client, web, _, alice = await started(
        rag_app, auth_headers, fake_upstream, web_loader_allow_private_addresses=True
    )
    bob = await auth_headers(app, user_id="bob-id")
    knowledge = await (
        await client.post("/api/v1/knowledge/create", json={"name": "Alice's"}, headers=alice)
    ).get_json()
    url = f"{web.base_url}/page.html"
    for path in ("process/web", "process/url", "process/youtube"):
        target = WATCH if path == "process/youtube" else url
        status, body = await post(client, path, bob, url=target, collection_name=knowledge["id"])
        assert status == 404, (path, body)
    status, _ = await post(client, "process/web", bob, url=url, collection_name="file-abc")
    assert status == 403
    assert web.requests == []  # refused before anything was fetched

    status, body = await post(client, "process/web", alice, url=url, collection_name=knowledge["id"])
    assert status == 200 and body["collection_name"] == knowledge["id"]
    assert any("keeper" in text for text in await search(client, alice, knowledge["id"], "keeper"))
    unauthenticated = await client.post("/api/v1/retrieval/process/web", json={"url": url})
    assert unauthenticated.status_code == 401


@pytest.mark.asyncio
async def test_free_named_collections_keep_each_users_pages_apart(rag_app, auth_headers, fake_upstream):
    app, client, web, _, alice = await started(
        rag_app, auth_headers, fake_upstream, web_loader_allow_private_addresses=True
    )
    bob = await auth_headers(app, user_id="bob-id")
    await post(client, "process/web", alice, url=f"{web.base_url}/page.html", collection_name="shared")
    assert await search(client, bob, "shared", "keeper") == []
    assert await search(client, alice, "shared", "keeper") != []


# -- YouTube ------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_process_youtube_reads_the_transcript_through_innertube(rag_app, auth_headers, fake_upstream):
    _, client, _, tube, alice = await started(rag_app, auth_headers, fake_upstream)
    status, body = await post(client, "process/youtube", alice, url=WATCH)
    assert status == 200, body
    collection = hashlib.sha256(WATCH.encode()).hexdigest()[:63]
    assert body == {
        "status": True,
        "collection_name": collection,
        "filename": WATCH,
        "content": ENGLISH,
        "file": {
            "data": {"content": ENGLISH},
            "meta": {"name": WATCH, "source": WATCH, "title": "A fake video about lighthouses"},
        },
    }
    assert [(r.method, r.path) for r in tube.requests] == [
        ("GET", "/watch"),
        ("POST", "/youtubei/v1/player"),
        ("GET", "/api/timedtext"),
    ]
    assert tube.requests[1].json()["context"]["client"]["clientName"] == "ANDROID"
    assert any("keeper" in text for text in await search(client, alice, collection, "keeper"))


@pytest.mark.parametrize("fmt", ["", "srv3", "json3"])
@pytest.mark.asyncio
async def test_transcripts_from_the_page_in_every_format(rag_app, auth_headers, fake_upstream, fmt):
    _, client, _, tube, alice = await started(rag_app, auth_headers, fake_upstream)
    tube.app.control.innertube = False
    tube.app.control.caption_format = fmt
    status, body = await post(client, "process/youtube", alice, url="https://youtu.be/fakeVideo01?t=3")
    assert status == 200 and body["content"] == ENGLISH, body
    assert [r.path for r in tube.requests] == ["/watch", "/api/timedtext"]
    assert tube.requests[1].query.get("fmt", "") == fmt


@pytest.mark.asyncio
async def test_youtube_language_preference_and_fallbacks(rag_app, auth_headers, fake_upstream):
    _, client, _, tube, alice = await started(
        rag_app, auth_headers, fake_upstream, youtube_languages=["fr", "de", "en"]
    )
    tube.app.control.consent = True  # an EU visitor: the consent form first
    _, body = await post(client, "process/youtube", alice, url="https://www.youtube.com/shorts/fakeVideo01")
    assert body["content"] == "Willkommen zur Leuchtturmführung."
    # The page's captions are used when the Android player has none.
    tube.app.control.videos["genOnly0001"] = FakeVideo(
        "genOnly0001", "Generated", [FakeTrack("en-US", [(0, 1, "only a generated track")], kind="asr")]
    )
    _, body = await post(client, "process/youtube", alice, url="https://www.youtube.com/embed/genOnly0001")
    assert body["content"] == "only a generated track"


@pytest.mark.parametrize(
    ("url", "setup", "detail"),
    [
        (
            "https://www.youtube.com/watch?v=missing0001",
            None,
            "The video missing0001 is not available: This video is unavailable",
        ),
        ("https://www.youtube.com/watch?v=private0001", "private", "not available: This video is private"),
        (
            "https://www.youtube.com/watch?v=silent00001",
            "silent",
            "No transcript is available for video silent00001",
        ),
        (
            "https://www.youtube.com/watch?v=fakeVideo01",
            "french",
            "No transcript for video fakeVideo01 in fr (it has: de, en)",
        ),
        ("https://www.youtube.com/channel/UC123", None, "Not a YouTube video URL"),
        ("https://example.com/watch?v=fakeVideo01", None, "Not a YouTube video URL"),
    ],
)
@pytest.mark.asyncio
async def test_youtube_failures_are_400s(rag_app, auth_headers, fake_upstream, url, setup, detail):
    languages = ["fr"] if setup == "french" else ["en"]
    _, client, _, tube, alice = await started(
        rag_app, auth_headers, fake_upstream, youtube_languages=languages
    )
    videos = tube.app.control.videos
    videos["private0001"] = FakeVideo(
        "private0001", "", status="LOGIN_REQUIRED", reason="This video is private"
    )
    videos["silent00001"] = FakeVideo("silent00001", "No captions")
    status, body = await post(client, "process/youtube", alice, url=url)
    assert status == 400 and detail in body["detail"], body


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ"),
        ("https://youtube.com/watch?feature=share&v=dQw4w9WgXcQ&t=42", "dQw4w9WgXcQ"),
        ("https://m.youtube.com/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ"),
        ("https://music.youtube.com/watch?v=dQw4w9WgXcQ&list=RD", "dQw4w9WgXcQ"),
        ("https://youtu.be/dQw4w9WgXcQ?si=abc", "dQw4w9WgXcQ"),
        ("https://www.youtube.com/shorts/dQw4w9WgXcQ", "dQw4w9WgXcQ"),
        ("https://www.youtube.com/embed/dQw4w9WgXcQ?start=3", "dQw4w9WgXcQ"),
        ("https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ", "dQw4w9WgXcQ"),
        ("https://www.youtube.com/live/dQw4w9WgXcQ", "dQw4w9WgXcQ"),
        ("HTTPS://WWW.YOUTUBE.COM/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ"),
        ("https://www.youtube.com/watch?v=short", None),
        ("https://www.youtube.com/@channel", None),
        ("https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ", None),
        ("ftp://youtu.be/dQw4w9WgXcQ", None),
    ],
)
def test_video_ids_of_the_usual_url_forms(url, expected):
    assert video_id(url) == expected


def test_timed_text_documents_refuse_entity_declarations():
    bomb = b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaa">]><transcript><text>&a;</text></transcript>'
    with pytest.raises(Exception, match="unreadable transcript"):
        parse_transcript(bomb)


# -- /process/url -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_process_url_dispatches_by_url_and_can_skip_storing(rag_app, auth_headers, fake_upstream):
    app, client, web, _, alice = await started(
        rag_app, auth_headers, fake_upstream, web_loader_allow_private_addresses=True
    )
    store = app.extensions["colonnade"].state("rag").service.store
    url = f"{web.base_url}/page.html"
    for target, kind in ((url, "web"), (WATCH, "youtube")):
        response = await client.post(
            "/api/v1/retrieval/process/url?process=false", json={"url": target}, headers=alice
        )
        body = await response.get_json()
        assert response.status_code == 200 and body["type"] == kind and body["url"] == target, body
        assert set(body) == {"status", "type", "name", "url", "content"}
    assert await store.list_collections() == []

    status, body = await post(client, "process/url", alice, url=WATCH, collection_name="videos")
    assert status == 200 and body["type"] == "youtube" and body["collection_name"] == "videos"
    assert body["content"] == ENGLISH and body["name"] == WATCH
    status, body = await post(
        client, "process/url", alice, url=url, collection_name=""
    )  # as Open WebUI sends
    assert status == 200 and body["type"] == "web"
    assert body["collection_name"] == hashlib.sha256(url.encode()).hexdigest()[:63]
    assert sorted(await store.list_collections()) == sorted(["videos", body["collection_name"]])
    bad = await client.post("/api/v1/retrieval/process/url?process=maybe", json={"url": url}, headers=alice)
    assert bad.status_code == 422


# -- web search and the resets ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_web_search_is_not_enabled(rag_app, auth_headers, fake_upstream):
    _, client, _, _, alice = await started(rag_app, auth_headers, fake_upstream)
    status, body = await post(client, "process/web/search", alice, queries=["lighthouses"])
    assert status == 403 and body == {"detail": "Web search is not enabled on this server"}


@pytest.mark.asyncio
async def test_reset_db_drops_every_collection_and_knowledge_base(rag_app, auth_headers, fake_upstream):
    app, client, web, _, alice = await started(
        rag_app, auth_headers, fake_upstream, web_loader_allow_private_addresses=True
    )
    admin = await auth_headers(app, role="admin")
    knowledge = await (
        await client.post("/api/v1/knowledge/create", json={"name": "Doomed"}, headers=alice)
    ).get_json()
    url = f"{web.base_url}/page.html"
    await post(client, "process/web", alice, url=url, collection_name=knowledge["id"])
    await post(client, "process/web", alice, url=url)
    store = app.extensions["colonnade"].state("rag").service.store
    assert len(await store.list_collections()) == 2

    for path in ("reset/db", "reset/uploads"):
        status, _ = await post(client, path, alice)
        assert status == 403
    assert len(await store.list_collections()) == 2

    status, body = await post(client, "reset/db", admin)
    assert status == 200 and body is True
    assert await store.list_collections() == []
    listed = await (await client.get("/api/v1/knowledge/", headers=alice)).get_json()
    assert listed == [] or listed.get("items") == []
    status, body = await post(client, "reset/uploads", admin)
    assert status == 501 and "files plugin" in body["detail"]
    # Loading works again afterwards.
    status, _ = await post(client, "process/web", alice, url=url)
    assert status == 200
