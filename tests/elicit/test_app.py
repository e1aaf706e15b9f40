"""The web app through FastAPI's TestClient on a temporary SQLite file: flow, integrity, errors, exports."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pluralign.elicit import comparisons as C
from pluralign.elicit import schema as S
from pluralign.elicit.app import create_app
from pluralign.elicit.store import Store

JSON = {"accept": "application/json"}


def form_value(html: str, name: str) -> str:
    """The value of the first hidden input ``name`` in a page."""
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no input {name!r} in page"
    return match.group(1)


def make_site(store):
    """(store, client, process, token): a conversation with three accepted statements and a client for it."""
    process, token = store.create_process("conversation", "Rules for our AI", min_votes=2, slug="rules")
    for text in ("The AI should be honest.", "The AI should not give medical advice.",
                 "<script>alert('x')</script> must show as text"):
        store.add_statement(process, text, moderated=1)
    return store, TestClient(create_app(store, rate=50, burst=50, address_rate=0)), process, token


@pytest.fixture
def site(tmp_path):
    """(store, client, process, token) on SQLite, with three accepted statements."""
    return make_site(Store(str(tmp_path / "app.db")))


@pytest.fixture
def site_any_db(store):
    """The same on every database under test (SQLite, and PostgreSQL when PLURALIGN_TEST_PG_URL is set)."""
    return make_site(store)


def start(client, path="/c/rules"):
    page = client.get(path)
    assert page.status_code == 200
    return page.text, form_value(page.text, "csrf")


def test_participant_votes_through_every_statement(site):
    store, client, process, _ = site
    html, csrf = start(client)
    assert "3 statements remaining" in html and "pl_anon" in client.cookies
    seen = []
    for value in ("agree", "disagree", "pass"):
        number = int(form_value(html, "statement"))
        seen.append(number)
        reply = client.post("/c/rules/vote", data={"csrf": csrf, "statement": number, "vote": value},
                            follow_redirects=False)
        assert reply.status_code == 303 and reply.headers["location"] == "/c/rules"
        html = client.get("/c/rules").text
    assert sorted(seen) == [0, 1, 2] and 'id="done"' in html and "voted on 3 statements" in html
    with store.engine.connect() as conn:
        votes = dict(conn.execute(select(S.Statement.number, S.Vote.value)
                                  .join(S.Statement, S.Statement.id == S.Vote.statement_id)).all())
    assert votes == dict(zip(seen, (1, -1, 0)))


def test_user_text_is_escaped(site):
    store, client, process, _ = site
    _, csrf = start(client)
    client.post("/c/rules/statements", data={"csrf": csrf, "text": "<b>bold</b> & <script>x()</script>"})
    for _ in range(3):
        html = client.get("/c/rules").text
        assert "<script>alert" not in html
        client.post("/c/rules/vote", data={"csrf": csrf, "statement": form_value(html, "statement"), "vote": "pass"})
    store.moderate(process, 3, accept=True)
    html = client.get("/c/rules").text
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;x()&lt;/script&gt;" in html and "<b>bold" not in html


def test_added_statement_waits_for_moderation_then_reaches_others(site_any_db):
    store, client, process, token = site_any_db
    _, csrf = start(client)
    reply = client.post("/c/rules/statements", data={"csrf": csrf, "text": "The AI should cite sources."},
                        headers=JSON)
    assert reply.json() == {"ok": True, "statement": 3, "moderated": 0}
    assert client.post("/c/rules/vote", data={"csrf": csrf, "statement": 3, "vote": "agree"},
                       headers=JSON).status_code == 409
    other = TestClient(client.app)
    assert "3 statements remaining" in other.get("/c/rules").text
    assert client.get(f"/admin/rules?token={token}", follow_redirects=False).status_code == 303
    admin = client.get("/admin/rules")
    assert "The AI should cite sources." in admin.text
    assert client.post("/admin/rules/moderate", data={"csrf": csrf, "statement": 3, "action": "accept"},
                       headers=JSON).json()["ok"]
    assert "4 statements remaining" in other.get("/c/rules").text


@pytest.mark.parametrize("data, status, message", [
    ({"statement": "0", "vote": "agree"}, 403, "CSRF"),
    ({"csrf": "forged", "statement": "0", "vote": "agree"}, 403, "CSRF"),
    ({"csrf": None, "statement": "zero", "vote": "agree"}, 422, "must be an integer"),
    ({"csrf": None, "statement": "0", "vote": "love"}, 422, "agree, disagree or pass"),
    ({"csrf": None, "statement": "77", "vote": "agree"}, 404, "statement 77 not found"),
    ({"csrf": None, "vote": "agree"}, 422, "is missing"),
])
def test_bad_votes_get_clear_errors(site, data, status, message):
    _, client, _, _ = site
    _, csrf = start(client)
    data = {k: (csrf if v is None else v) for k, v in data.items()}
    reply = client.post("/c/rules/vote", data=data, headers=JSON)
    assert reply.status_code == status and message in reply.json()["detail"]
    html = client.post("/c/rules/vote", data=data)  # a browser gets the same message as a page
    assert html.status_code == status and message in html.text and "text/html" in html.headers["content-type"]


def test_post_without_cookie_and_unknown_process(site):
    _, client, _, _ = site
    fresh = TestClient(client.app)
    reply = fresh.post("/c/rules/vote", data={"statement": 0, "vote": "agree"}, headers=JSON)
    assert reply.status_code == 403 and "cookie" in reply.json()["detail"]
    assert client.get("/c/nope").status_code == 404
    assert client.get("/no/such/page", headers=JSON).json()["detail"] == "Not Found"


def test_statement_length_limit_over_http(site):
    _, client, _, _ = site
    _, csrf = start(client)
    reply = client.post("/c/rules/statements", data={"csrf": csrf, "text": "y" * 401}, headers=JSON)
    assert reply.status_code == 422 and "too long" in reply.json()["detail"]


def test_rate_limit(tmp_path):
    store = Store(str(tmp_path / "rate.db"))
    process, _ = store.create_process("conversation", "Rate", slug="rate")
    store.add_statement(process, "Something to vote on", moderated=1)
    client = TestClient(create_app(store, rate=1, burst=3))
    _, csrf = start(client, "/c/rate")
    codes = [client.post("/c/rate/vote", data={"csrf": csrf, "statement": 0, "vote": "agree"},
                         headers=JSON).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    other = TestClient(client.app)  # another participant is not slowed down by the first
    _, csrf2 = start(other, "/c/rate")
    assert other.post("/c/rate/vote", data={"csrf": csrf2, "statement": 0, "vote": "pass"},
                      headers=JSON).status_code == 200


def test_organiser_pages_and_exports_need_the_token(site):
    store, client, process, token = site
    _, csrf = start(client)
    assert client.get("/admin/rules").status_code == 401
    assert client.get("/admin/rules?token=wrong").status_code == 403
    assert client.get("/admin/rules/export/votes.csv").status_code == 401
    assert client.post("/admin/rules/moderate", data={"csrf": csrf, "statement": 0, "action": "reject"},
                       headers=JSON).status_code == 401
    client.post("/c/rules/vote", data={"csrf": csrf, "statement": 1, "vote": "disagree"})
    bearer = {"authorization": f"Bearer {token}"}
    votes = client.get("/admin/rules/export/votes.csv", headers=bearer)
    rows = list(csv.DictReader(io.StringIO(votes.text)))
    assert [(r["comment-id"], r["voter-id"], r["vote"]) for r in rows] == [("1", "0", "-1")]
    records = [json.loads(line) for line in client.get("/admin/rules/export/votes.jsonl", headers=bearer).text.splitlines()]
    assert records == [{"participant": "0", "statement": "1", "value": -1, "timestamp": records[0]["timestamp"]}]
    assert client.get("/admin/rules/export/secrets.txt", headers=bearer).status_code == 404


def test_comparison_task_pair_and_ranking(tmp_path):
    store = Store(str(tmp_path / "cmp.db"))
    process, token = C.create_comparison(store, "Compare", [
        {"prompt": "How do I bake bread?", "responses": ["Mix flour, water, yeast; knead; bake.", "No."]},
        {"prompt": [{"role": "user", "content": "Name a colour"}], "responses": ["red", "blue", "green"]},
    ], slug="cmp")
    client = TestClient(create_app(store))
    html, csrf = start(client, "/t/cmp")
    assert "Choose the most helpful and honest response" in html or "Rank the responses" in html
    for _ in range(2):
        item = int(form_value(html, "item"))
        if item == 0:
            assert html.count('name="pick"') == 8
            shown_a = "Mix flour" if html.index("Mix flour") < html.index(">No.<") else "No."
            reply = client.post("/t/cmp/pair", data={"csrf": csrf, "item": 0, "pick": "b3"}, follow_redirects=False)
        else:
            reply = client.post("/t/cmp/rank", data={"csrf": csrf, "item": 1, "rank_0": 2, "rank_1": 1, "rank_2": 2},
                                follow_redirects=False)
        assert reply.status_code == 303
        html = client.get("/t/cmp").text
    assert "judged every item" in html
    bad = client.post("/t/cmp/rank", data={"csrf": csrf, "item": 1, "rank_0": 1, "rank_1": 2}, headers=JSON)
    assert bad.status_code == 422 and "each of its 3 responses" in bad.json()["detail"]
    bad = client.post("/t/cmp/pair", data={"csrf": csrf, "item": 0, "pick": "c9"}, headers=JSON)
    assert bad.status_code == 422

    from pluralign.elicit.exports import comparisons, preferences, rankings
    [comparison] = comparisons(store, process)
    assert comparison.response_a.startswith(shown_a) and comparison.label == "b" and comparison.strength == 3
    assert comparison.p_a == 0.0 and comparison.annotator == "0"
    [ranking] = rankings(store, process)
    assert ranking.order == [["blue"], ["red", "green"]]
    prefs = {(p.chosen, p.rejected) for p in preferences(store, process)}
    chosen_b = comparison.response_b
    assert prefs == {(chosen_b, comparison.response_a), ("blue", "red"), ("blue", "green")}


ENDPOINTS = ["/c/rules/vote", "/c/rules/statements", "/t/rules/pair", "/t/rules/rank", "/admin/rules/moderate",
             "/admin/rules/statements", "/c/%00/vote", "/c/rules/nope"]
GARBAGE = [b"", b"\xff\xfe\x00", b"statement=99999999999999999999999&vote=agree",
           b"statement=-1&vote=1", b"text=%00%00%00%00", b"item=0&pick=a9", b"item=0&rank_0=1&rank_1=99999999999",
           b"statement=0&vote=agree&vote=disagree", b"=&&==", b"a" * 100_000]


def test_garbage_never_causes_a_server_error(site_any_db):
    """Every refusal is a 4xx with a message: fuzz every POST endpoint with odd bodies, with a valid token."""
    _, client, _, token = site_any_db
    _, csrf = start(client)
    client.get(f"/admin/rules?token={token}")
    for path in ENDPOINTS:
        for body in GARBAGE:
            for extra in (b"", b"&csrf=" + csrf.encode()):
                reply = client.post(path, content=body + extra, headers={
                    **JSON, "content-type": "application/x-www-form-urlencoded"})
                assert reply.status_code < 500, (path, body[:40], reply.status_code, reply.text[:200])
                assert reply.status_code == 200 or reply.json()["detail"]
    odd = TestClient(client.app, cookies={"pl_anon": "\x00bad"})
    assert odd.get("/c/rules").status_code == 200
    assert odd.post("/c/rules/vote", data={"statement": 0, "vote": "agree"}, headers=JSON).status_code == 403
