"""The web app under hostile but bounded traffic: body caps, odd fields on every route, abuse limits, headers."""

from __future__ import annotations

import csv
import io
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.routing import Route

from pluralign.elicit import comparisons as C
from pluralign.elicit import schema as S
from pluralign.elicit.app import create_app
from pluralign.elicit.guard import RateLimiter
from pluralign.elicit.store import PROCESS_PATHS, Store
from pluralign.elicit.task_store import create_text_task

JSON = {"accept": "application/json"}
FORM = {**JSON, "content-type": "application/x-www-form-urlencoded"}


def csrf_of(html: str) -> str:
    return html.split('name="csrf" value="')[1].split('"')[0]


@pytest.fixture
def sites(tmp_path):
    """(store, app, organiser token): a conversation "rules", a comparison "cmp" (one pair, one ranking), a
    demonstration task "demo" and an edit task "edit", all with one organiser token."""
    store = Store(str(tmp_path / "hostile.db"))
    process, token = store.create_process("conversation", "Rules", slug="rules")
    for text in ("The AI should be honest.", "The AI should be kind."):
        store.add_statement(process, text, moderated=1)
    C.create_comparison(store, "Compare", [{"prompt": "Hi", "responses": ["Hello!", "Go away."]},
                                           {"prompt": "Colour?", "responses": ["red", "blue", "green"]}],
                        slug="cmp", token=token)
    create_text_task(store, "demonstration", "Write", [{"prompt": "How do I bake bread?"}], slug="demo", token=token)
    create_text_task(store, "edit", "Edit", [{"prompt": "Hi", "response": "Go away."}], slug="edit", token=token)
    return store, create_app(store, rate=0, address_rate=0), token


def browser(app, path="/c/rules", **kwargs) -> tuple[TestClient, str]:
    client = TestClient(app, **kwargs)
    page = client.get(path)
    assert page.status_code == 200
    return client, csrf_of(page.text)


def test_oversized_bodies_are_refused_before_reading(sites):
    _, app, _ = sites
    client, csrf = browser(app)
    started = time.perf_counter()
    reply = client.post("/c/rules/statements", content=b"text=" + b"x" * 10_000_000, headers=FORM)
    assert reply.status_code == 413 and "at most 65,536 bytes" in reply.json()["detail"]

    def chunks():  # no Content-Length: counted as it streams in
        for _ in range(200):
            yield b"x" * 100_000

    reply = client.post("/c/rules/statements", content=chunks(), headers=FORM)
    assert reply.status_code == 413
    assert time.perf_counter() - started < 5.0  # parsing 10 MB on the loop took 10.4 s
    assert client.post("/c/rules/vote", data={"csrf": csrf, "statement": 0, "vote": "agree"},
                       headers=JSON).status_code == 200


ODD = ["\u0661\u0662", "\u00b2", "0_1", "9" * 5000, "-1", "1e3", "\uff11", "\u200b\u200b\u200b\u200b",
       "\u202eevil text", "caf\u00e9 \u2603", "\x00", "", "2147483648", "b4"]
SLUG_OF = {PROCESS_PATHS[kind]: slug for kind, slug in
           (("conversation", "rules"), ("comparison", "cmp"), ("demonstration", "demo"), ("edit", "edit"))}
FIELDS = ["csrf", "statement", "vote", "text", "item", "pick", "action", "rank_0", "rank_1", "rank_2"]


def test_fuzz_every_route_and_field_never_gives_a_server_error(sites):
    """Each odd value in each field of each route (the other fields valid), and in every path and query."""
    _, app, token = sites
    client, csrf = browser(app)
    for slug in SLUG_OF.values():
        client.get(f"/admin/{slug}?token={token}")
    base = {"csrf": csrf, "statement": "0", "vote": "agree", "text": "A fine new statement", "item": "0",
            "pick": "a2", "action": "accept", "rank_0": "1", "rank_1": "2", "rank_2": "3"}
    routes = [r for r in app.routes if isinstance(r, Route) and "{" in r.path]
    assert len(routes) >= 10
    checked = 0
    for route in routes:
        letter = route.path.split("/")[1]  # a process of the route's kind; organiser pages: every kind's
        slugs = [SLUG_OF[letter]] if letter in SLUG_OF else list(SLUG_OF.values()) if "GET" in route.methods else ["rules"]
        fields = {**base, "item": "1"} if letter == "t" else base  # item 1 is the ranking, 0 the pair
        for slug in slugs:
            path = route.path.replace("{slug}", slug).replace("{name}", "votes.csv")
            if "POST" in route.methods:
                for field in FIELDS:
                    for value in ODD:
                        reply = client.post(path, data={**fields, field: value}, headers=JSON)
                        assert reply.status_code < 500, (path, field, value[:20], reply.text[:200])
                        checked += 1
                reply = client.post(path, data={**fields, "rank_\u00b2": "1", "rank_" + "9" * 5000: "1"}, headers=JSON)
                assert reply.status_code < 500, (path, reply.text[:200])
            else:
                for value in ODD:
                    for query in ("page", "item"):
                        reply = client.get(path, params={query: value}, headers=JSON)
                        assert reply.status_code < 500, (path, query, value[:20], reply.text[:200])
                        checked += 1
        for value in ODD[:8]:
            reply = client.get(route.path.replace("{slug}", value).replace("{name}", value), headers=JSON)
            assert reply.status_code < 500
    assert checked > 1000


def test_non_ascii_csrf_token_and_odd_rank_fields_are_refused(sites):
    _, app, _ = sites
    client, csrf = browser(app, "/t/cmp")
    reply = client.post("/c/rules/vote", data={"csrf": "\u00e9" * 32, "statement": 0, "vote": "agree"}, headers=JSON)
    assert reply.status_code == 403 and "CSRF" in reply.json()["detail"]
    for name in ("rank_\u00b2", "rank_" + "9" * 5000, "rank_\u0661"):
        reply = client.post("/t/cmp/rank", data={"csrf": csrf, "item": 1, "rank_0": 1, "rank_1": 2, name: 3},
                            headers=JSON)
        assert reply.status_code == 422 and "rank_<response number>" in reply.json()["detail"]
        assert len(reply.json()["detail"]) < 200


@pytest.mark.parametrize("value", ["0_1", "\u0661", "\uff10", "+1", " 1_0 "])
def test_only_ascii_digits_are_integers(sites, value):
    _, app, _ = sites
    client, csrf = browser(app)
    reply = client.post("/c/rules/vote", data={"csrf": csrf, "statement": value, "vote": "agree"}, headers=JSON)
    assert reply.status_code == 422 and "digits 0-9" in reply.json()["detail"]


def test_page_views_write_nothing_and_cookies_are_issued_by_the_server(sites):
    store, app, _ = sites
    for _ in range(60):
        assert TestClient(app).get("/c/rules").status_code == 200
    chosen = TestClient(app, cookies={"pl_anon": "attacker-chosen-id-12345"})
    page = chosen.get("/c/rules")
    issued = page.cookies.get("pl_anon")
    assert issued and "attacker-chosen" not in issued and "." in issued  # replaced by a signed id
    forged = TestClient(app, cookies={"pl_anon": issued[:-4] + "0000"})  # a tampered signature
    assert forged.post("/c/rules/vote", data={"csrf": csrf_of(page.text), "statement": 0, "vote": "agree"},
                       headers=JSON).status_code == 403
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(S.Participant)).scalar_one() == 0
    client, csrf = browser(app)
    assert client.post("/c/rules/vote", data={"csrf": csrf, "statement": 0, "vote": "agree"},
                       headers=JSON).status_code == 200
    with store.engine.connect() as conn:
        anon_ids = conn.execute(select(S.Participant.anon_id)).scalars().all()
    assert len(anon_ids) == 1 and anon_ids[0] == client.cookies["pl_anon"].split(".")[0]


def test_fresh_ids_from_one_address_share_its_limit_and_retry_after_is_the_real_wait(tmp_path):
    store = Store(str(tmp_path / "abuse.db"))
    process, _ = store.create_process("conversation", "Abuse", slug="rules")
    store.add_statement(process, "Something to vote on", moderated=1)
    app = create_app(store, rate=2, burst=5, address_rate=0.05, address_burst=12)
    codes, waits = [], []
    for _ in range(10):  # ten fresh browsers from one address, three statements each
        client, csrf = browser(app)
        for i in range(3):
            reply = client.post("/c/rules/statements", data={"csrf": csrf, "text": f"Spam statement {i}"},
                                headers=JSON)
            codes.append(reply.status_code)
            if reply.status_code == 429:
                waits.append(int(reply.headers["retry-after"]))
    assert codes.count(200) == 12 and codes.count(429) == 18
    # one token refills in 1 / 0.05 = 20 s, less what refilled while the test ran (well under 5 s)
    assert all(15 <= w <= 20 for w in waits) and waits == sorted(waits, reverse=True)
    assert store.counts(process)["queued statements"] == 12


def test_buckets_and_participant_cache_are_bounded(tmp_path):
    limiter = RateLimiter(rate=0.001, burst=2, max_keys=100)
    for i in range(1000):
        limiter.allow(f"key{i}")
    assert len(limiter) <= 100
    store = Store(str(tmp_path / "cache.db"), cache_size=10)
    process, _ = store.create_process("conversation", "Cache", slug="rules")
    ids = [store.participant(process, f"browser-{i}") for i in range(50)]
    assert len(store._participants) == 10 and len(set(ids)) == 50
    assert store.participant(process, "browser-0") == ids[0]  # an evicted id comes back from the database


def test_moderation_queue_is_paged(sites):
    store, app, token = sites
    process = store.process("rules")
    for i in range(120):
        store.add_statement(process, f"Queued statement number {i} " + "x" * 300)
    client = TestClient(app)
    client.get(f"/admin/rules?token={token}")
    first = client.get("/admin/rules")
    assert first.text.count('class="statement-text"') == 50 and 'id="queue-next"' in first.text
    assert len(first.content) < 60_000
    last = client.get("/admin/rules?page=2")
    assert last.text.count('class="statement-text"') == 20 and 'id="queue-next"' not in last.text
    assert "Queued statement number 119" in last.text


@pytest.mark.parametrize("text, message", [
    ("\u200b" * 10, "visible characters"),
    ("\u200b\u200c\u200d\ufeff \u2060\u2060", "visible characters"),
    ("Looks fine \u202eenil siht", "bidirectional override"),
    ("Unmatched \u202c close", "bidirectional override"),
    ("Crossed \u2066 isolate \u202a embed \u2069 end \u202c", "bidirectional override"),
])
def test_invisible_and_bidi_statements_are_refused(sites, text, message):
    _, app, _ = sites
    client, csrf = browser(app)
    reply = client.post("/c/rules/statements", data={"csrf": csrf, "text": text}, headers=JSON)
    assert reply.status_code == 422 and message in reply.json()["detail"]


def test_balanced_bidi_and_long_values_in_messages(sites):
    _, app, _ = sites
    client, csrf = browser(app)
    ok = client.post("/c/rules/statements", data={"csrf": csrf, "text": "Quote \u2067\u05e9\u05dc\u05d5\u05dd\u2069 ok"},
                     headers=JSON)
    assert ok.status_code == 200
    reply = client.post("/c/rules/vote", data={"csrf": csrf, "statement": 0, "vote": "v" * 60_000}, headers=JSON)
    assert reply.status_code == 422 and len(reply.json()["detail"]) < 200 and "60,000 characters" in reply.json()["detail"]


def test_ranking_on_an_ab_item_is_refused(sites):
    _, app, _ = sites
    client, csrf = browser(app, "/t/cmp")
    reply = client.post("/t/cmp/rank", data={"csrf": csrf, "item": 0, "rank_0": 1, "rank_1": 2}, headers=JSON)
    assert reply.status_code == 422 and "choose A or B" in reply.json()["detail"]


def test_csv_exports_neutralise_formulas(sites):
    store, app, token = sites
    process = store.process("rules")
    store.add_statement(process, "=HYPERLINK(\"http://evil\",\"click\")", moderated=1)
    store.add_statement(process, "@SUM(A1:A9) is a rule", moderated=1)
    store.add_statement(process, "-2+3 must not compute", moderated=1)
    client, csrf = browser(app)
    client.post("/c/rules/vote", data={"csrf": csrf, "statement": 2, "vote": "disagree"}, headers=JSON)
    bearer = {"authorization": f"Bearer {token}"}
    rows = list(csv.DictReader(io.StringIO(client.get("/admin/rules/export/comments.csv", headers=bearer).text)))
    bodies = {r["comment-id"]: r["comment-body"] for r in rows}
    assert bodies["2"].startswith("'=HYPERLINK") and bodies["3"].startswith("'@SUM") and bodies["4"] == "'-2+3 must not compute"
    assert bodies["0"] == "The AI should be honest."
    votes = list(csv.DictReader(io.StringIO(client.get("/admin/rules/export/votes.csv", headers=bearer).text)))
    assert votes[0]["vote"] == "-1"  # numbers stay numbers


def test_security_headers_origin_check_and_secure_cookies(sites):
    _, app, token = sites
    client, csrf = browser(app)
    page = client.get("/c/rules")
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert client.get("/static/style.css").headers["x-content-type-options"] == "nosniff"
    vote = {"csrf": csrf, "statement": 0, "vote": "agree"}
    evil = client.post("/c/rules/vote", data=vote, headers={**JSON, "origin": "https://evil.example"})
    assert evil.status_code == 403 and "cross-origin" in evil.json()["detail"]
    assert client.post("/c/rules/vote", data=vote, headers={**JSON, "origin": "null"}).status_code == 403
    assert client.post("/c/rules/vote", data=vote, headers={**JSON, "origin": "http://testserver"}).status_code == 200
    proxied = TestClient(create_app(sites[0], rate=0, address_rate=0, origins=("https://vote.example.org",)))
    csrf = csrf_of(proxied.get("/c/rules").text)
    for origin, status in (("https://vote.example.org", 200), ("https://evil.example", 403)):
        reply = proxied.post("/c/rules/vote", data={**vote, "csrf": csrf}, headers={**JSON, "origin": origin})
        assert reply.status_code == status
    assert "secure" not in page.headers.get("set-cookie", "").lower()
    https = TestClient(app, base_url="https://testserver")
    assert "secure" in https.get("/c/rules").headers["set-cookie"].lower()
    organiser = https.get(f"/admin/rules?token={token}", follow_redirects=False)
    assert "secure" in organiser.headers["set-cookie"].lower()
