"""The Router's contract mechanics on a small resource served through functions-framework.

The resource (`/notes`) exists only in this test: it exercises the shared plumbing every
function's routes rely on, with Firestore on the emulator.
"""

import itertools

import pytest
from flask import Flask
from marshmallow import Schema, fields, validate

from shared.amapi.errors import AmapiQuotaExhausted, AmapiUnavailable
from shared.errors import InvalidArgument, NotFound
from shared.http.router import Reply, Router
from shared.pagination import ListQuerySchema, decode_page_token, encode_page_token
from shared.representation import etag_of
from shared.store.client import db
from tests.conftest import token_for


class NoteSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=50))
    tags = fields.List(fields.String(), load_default=list)


router = Router("notes under test")
created = itertools.count(1)


def note_json(snapshot):
    data = snapshot.to_dict()
    return {"id": snapshot.id, **data, "etag": etag_of(snapshot.id, snapshot.update_time)}


@router.route("POST", "/notes", "Create a note", idempotent=True, request_schema=NoteSchema,
              success_status=201)
def create_note(ctx):
    body = ctx.body(NoteSchema())
    ref = db().collection("notes").document(f"note-{next(created):04d}")
    ref.create(body)
    note = note_json(ref.get())
    return Reply(note, 201, {"Location": f"/notes/{ref.id}", "ETag": note["etag"]})


@router.route("GET", "/notes", "List notes", query_schema=ListQuerySchema)
def list_notes(ctx):
    size = ctx.args["pageSize"]
    query = db().collection("notes").order_by("__name__").limit(size + 1)
    if token := ctx.args["pageToken"]:
        after = decode_page_token(token, "notes")["after"]
        query = query.start_after({"__name__": db().collection("notes").document(after)})
    snapshots = list(query.stream())
    body = {"notes": [note_json(s) for s in snapshots[:size]]}
    if len(snapshots) > size:
        body["nextPageToken"] = encode_page_token({"after": snapshots[size - 1].id}, "notes")
    return body


@router.route("PATCH", "/notes/<note_id>", "Edit a note", request_schema=NoteSchema)
def edit_note(ctx):
    ref = db().collection("notes").document(ctx.params["note_id"])
    snapshot = ref.get()
    if not snapshot.exists:
        raise NotFound("no such note")
    ctx.if_match(note_json(snapshot)["etag"])
    ref.update(ctx.body(NoteSchema(), partial=True))
    return note_json(ref.get())


@router.route("POST", "/quota", "Always throttled")
def throttled(ctx):
    raise AmapiQuotaExhausted("enterprises.policies.patch", "Quota exceeded")


@router.route("POST", "/outage", "AMAPI down")
def outage(ctx):
    raise AmapiUnavailable("enterprises.policies.patch", "backend error")


@router.route("POST", "/bug", "A programming error")
def bug(ctx):
    return {"ratio": 1 / 0}


@pytest.fixture
def client(firestore):
    from shared.store import access_control

    for principal in ("writer@example.com", "other@example.com"):
        access_control.put_binding({"principal": principal, "role": "ADMIN", "space": "global"})
    app = Flask("notes")
    app.add_url_rule("/<path:path>", "run", lambda path: router.dispatch(_request()),
                     methods=["GET", "POST", "PATCH", "DELETE"])
    return app.test_client()


def _request():
    from flask import request
    return request


AUTH = {"Authorization": f"Bearer {token_for('writer@example.com')}"}


def test_same_idempotency_key_and_body_returns_the_first_result(client):
    headers = {**AUTH, "Idempotency-Key": "k-1"}
    first = client.post("/notes", json={"text": "hello"}, headers=headers)
    again = client.post("/notes", json={"text": "hello"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(list(db().collection("notes").stream())) == 1


def test_same_key_with_another_body_is_400(client):
    headers = {**AUTH, "Idempotency-Key": "k-2"}
    client.post("/notes", json={"text": "hello"}, headers=headers)
    response = client.post("/notes", json={"text": "bye"}, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["details"][0]["field"] == "Idempotency-Key"


def test_keys_are_per_caller(client):
    other = {"Authorization": f"Bearer {token_for('other@example.com')}", "Idempotency-Key": "k"}
    client.post("/notes", json={"text": "hello"}, headers={**AUTH, "Idempotency-Key": "k"})
    client.post("/notes", json={"text": "hello"}, headers=other)
    assert len(list(db().collection("notes").stream())) == 2


def test_failed_request_releases_its_key(client):
    headers = {**AUTH, "Idempotency-Key": "k-3"}
    assert client.post("/notes", json={"text": ""}, headers=headers).status_code == 400
    assert client.post("/notes", json={"text": "fixed"}, headers=headers).status_code == 201


def test_without_a_key_each_post_creates(client):
    client.post("/notes", json={"text": "a"}, headers=AUTH)
    client.post("/notes", json={"text": "a"}, headers=AUTH)
    assert len(list(db().collection("notes").stream())) == 2


def test_pages_cover_every_item_exactly_once(client):
    for i in range(12):
        client.post("/notes", json={"text": f"n{i}"}, headers=AUTH)
    seen, token = [], None
    while True:
        url = "/notes?pageSize=5" + (f"&pageToken={token}" if token else "")
        body = client.get(url, headers=AUTH).get_json()
        seen += [n["id"] for n in body["notes"]]
        token = body.get("nextPageToken")
        if not token:
            break
    assert len(seen) == 12 and len(set(seen)) == 12


def test_tampered_page_token_and_bad_page_size_are_400(client):
    for i in range(3):
        client.post("/notes", json={"text": f"n{i}"}, headers=AUTH)
    token = client.get("/notes?pageSize=1", headers=AUTH).get_json()["nextPageToken"]
    tampered = token[:-2] + ("xy" if not token.endswith("xy") else "zz")
    for url in (f"/notes?pageToken={tampered}", "/notes?pageSize=0"):
        response = client.get(url, headers=AUTH)
        assert response.status_code == 400
        assert response.get_json()["error"]["status"] == "INVALID_ARGUMENT"


def test_stale_if_match_is_412_and_current_one_applies(client):
    note = client.post("/notes", json={"text": "v1"}, headers=AUTH).get_json()
    updated = client.patch(f"/notes/{note['id']}", json={"text": "v2"},
                           headers={**AUTH, "If-Match": note["etag"]})
    assert updated.status_code == 200 and updated.get_json()["etag"] != note["etag"]
    stale = client.patch(f"/notes/{note['id']}", json={"text": "v3"},
                         headers={**AUTH, "If-Match": note["etag"]})
    assert stale.status_code == 412
    assert stale.get_json()["error"]["status"] == "FAILED_PRECONDITION"
    assert db().collection("notes").document(note["id"]).get().get("text") == "v2"


def test_malformed_json_is_400_never_500(client):
    response = client.post("/notes", data=b'{"text": ', headers={
        **AUTH, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert "malformed JSON" in response.get_json()["error"]["message"]


def test_every_error_carries_details_even_when_empty(client):
    for response in (client.post("/quota", headers=AUTH), client.get("/notes"),
                     client.get("/nowhere", headers=AUTH), client.delete("/notes", headers=AUTH),
                     client.post("/bug", headers=AUTH)):
        error = response.get_json()["error"]
        assert error["details"] == [], (response.status_code, error)
    refused = client.post("/notes", json={"text": ""}, headers=AUTH).get_json()["error"]
    assert refused["details"][0]["field"] == "text"


def test_empty_page_size_is_400_naming_it(client):
    client.post("/notes", json={"text": "n"}, headers=AUTH)
    response = client.get("/notes?pageSize=", headers=AUTH)
    assert response.status_code == 400
    assert response.get_json()["error"]["details"][0]["field"] == "pageSize"
    assert client.get("/notes", headers=AUTH).status_code == 200


def _audit_entries():
    from shared.store import access_control

    return [s.to_dict() for s in db().collection(access_control.AUDIT).stream()]


def test_audit_entry_of_a_creation_names_what_was_created(client):
    note = client.post("/notes", json={"text": "audited"}, headers=AUTH)
    assert note.status_code == 201
    client.patch(f"/notes/{note.get_json()['id']}", json={"text": "v2"}, headers=AUTH)
    entries = {e["action"]: e for e in _audit_entries()}
    created = entries["POST /notes"]
    assert created["resource"] == f"/notes/{note.get_json()['id']}"
    assert created["outcome"] == "ALLOWED"
    patched = entries[f"PATCH /notes/{note.get_json()['id']}"]
    assert patched["resource"] == f"/notes/{note.get_json()['id']}"
    client.post("/notes", json={"text": ""}, headers=AUTH)  # refused: nothing was created
    failed = [e for e in _audit_entries() if e["status"] == 400]
    assert [e["resource"] for e in failed] == ["/notes"]


@pytest.mark.parametrize(("raw", "field"), [
    (b'{"text": "\\ud800"}', "text"),
    (b'{"text": "ok", "tags": ["a", "b\\udfff"]}', "tags[1]"),
    (b'{"text": "ok", "\\ud800": 1}', "\\ud800"),
    (b'{"text": "ok", "tags": [NaN]}', "tags[0]"),
    (b'{"text": Infinity}', "text"),
    (b'{"text": -Infinity}', "text"),
    (b'{"text": "ok", "tags": ' + b"[" * 40 + b"]" * 40 + b"}", "tags" + "[0]" * 31),
    (b'{"text": "ok", "tags": ' + b"[" * 1500 + b"]" * 1500 + b"}", "tags" + "[0]" * 31),
    (b'{"text": "ok", "tags": ' + b"[" * 50000 + b"]" * 50000 + b"}", "tags" + "[0]" * 31),
    (b'{"text": "ok", "tags": ' + b'{"a": ' * 50000, "tags" + ".a" * 31),
])
def test_unstorable_or_too_deep_bodies_are_400_naming_the_field(client, raw, field):
    response = client.post("/notes", data=raw, headers={**AUTH,
                                                        "Content-Type": "application/json"})
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert [d["field"] for d in error["details"]] == [field]
    assert list(db().collection("notes").stream()) == []


def test_nesting_up_to_the_documented_depth_is_accepted():
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from shared.http.requests import MAX_JSON_DEPTH, decode_json

    def body(depth):
        raw = b'{"a": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"
        return Request(EnvironBuilder(method="POST", data=raw).get_environ())

    assert isinstance(decode_json(body(MAX_JSON_DEPTH))["a"], list)
    with pytest.raises(InvalidArgument) as caught:
        decode_json(body(MAX_JSON_DEPTH + 1))
    assert caught.value.details[0].field == "a" + "[0]" * (MAX_JSON_DEPTH - 1)


def test_valid_unicode_is_kept(client):
    raw = rb'{"text": "caf\u00e9 \ud83d\ude00 ' + "☕".encode() + b'"}'
    response = client.post("/notes", data=raw,
                           headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 201
    assert response.get_json()["text"] == "café 😀 ☕"


def test_oversized_body_is_400(client):
    from shared.http.requests import MAX_BODY_BYTES

    raw = b'{"text": "ok", "tags": ["' + b"x" * MAX_BODY_BYTES + b'"]}'
    response = client.post("/notes", data=raw, headers={**AUTH,
                                                        "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["details"] == [
        {"field": "body", "reason": f"must be at most {MAX_BODY_BYTES} bytes"}]


def test_amapi_quota_and_outage_surface_as_429_and_503(client):
    quota = client.post("/quota", headers=AUTH)
    assert quota.status_code == 429
    assert quota.get_json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert quota.headers["Retry-After"] == "60"
    outage = client.post("/outage", headers=AUTH)
    assert outage.status_code == 503
    assert outage.get_json()["error"]["status"] == "UNAVAILABLE"


def test_a_bug_is_500_in_the_envelope_without_internals(client):
    response = client.post("/bug", headers=AUTH)
    assert response.status_code == 500
    assert response.get_json() == {"error": {"code": 500, "status": "INTERNAL",
                                             "message": "internal error", "details": []}}


def test_openapi_document_describes_the_declared_routes(client):
    document = client.get("/openapi.json").get_json()
    create = document["paths"]["/notes"]["post"]
    assert create["security"] == [{"bearer": []}]
    assert "Idempotency-Key" in [p["name"] for p in create["parameters"]]
    schema_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert schema["required"] == ["text"]
    assert document["paths"]["/notes/{note_id}"]["patch"]["parameters"][0]["name"] == "note_id"
    assert "nested at most 32 levels" in document["info"]["description"]
    assert "details" in document["components"]["schemas"]["ErrorBody"]["required"]
