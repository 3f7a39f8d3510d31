import pytest
from marshmallow import Schema, fields, validate
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from shared.errors import FailedPrecondition, InvalidArgument
from shared.http.requests import parse_json
from shared.representation import check_if_match, etag_of


class AttributeSchema(Schema):
    name = fields.String(required=True)
    value = fields.String(validate=validate.Length(max=256))


class ProfileSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    validityDays = fields.Integer(required=True, strict=True,
                                  validate=validate.Range(min=1, max=30))
    customAttributes = fields.List(fields.Nested(AttributeSchema))


def request_with(data: bytes) -> Request:
    return Request(EnvironBuilder(method="POST", data=data,
                                  content_type="application/json").get_environ())


def test_valid_body_is_loaded():
    body = parse_json(request_with(b'{"name": "Lobby", "validityDays": 30}'), ProfileSchema())
    assert body == {"name": "Lobby", "validityDays": 30}


@pytest.mark.parametrize("raw", [b'{"name": ', b"\xff\xfe", b"not json"])
def test_malformed_json_is_400(raw):
    with pytest.raises(InvalidArgument) as caught:
        parse_json(request_with(raw), ProfileSchema())
    assert "malformed JSON" in caught.value.message


@pytest.mark.parametrize("raw", [b"", b"[]", b'"text"', b"42"])
def test_body_must_be_an_object(raw):
    with pytest.raises(InvalidArgument) as caught:
        parse_json(request_with(raw), ProfileSchema())
    assert "JSON object" in caught.value.message


def test_every_violation_names_its_field():
    raw = (b'{"name": "", "validityDays": 31, "colour": "red", '
           b'"customAttributes": [{"name": "store"}, {"value": "x"}]}')
    with pytest.raises(InvalidArgument) as caught:
        parse_json(request_with(raw), ProfileSchema())
    reasons = {v.field: v.reason for v in caught.value.details}
    assert set(reasons) == {"name", "validityDays", "colour", "customAttributes[1].name"}
    assert reasons["colour"] == "unknown field"
    assert "between 1 and 30" in reasons["validityDays"] or "30" in reasons["validityDays"]
    envelope = caught.value.to_json()["error"]
    assert envelope["code"] == 400 and envelope["status"] == "INVALID_ARGUMENT"


def test_integer_fields_refuse_strings_and_floats():
    for raw in (b'{"name": "a", "validityDays": "7"}', b'{"name": "a", "validityDays": 7.5}'):
        with pytest.raises(InvalidArgument) as caught:
            parse_json(request_with(raw), ProfileSchema())
        assert caught.value.details[0].field == "validityDays"


def test_if_match_accepts_current_absent_or_star():
    etag = etag_of("prof-1", "2026-11-21T10:00:00.123456Z")
    for header in (None, "", "*", etag, f"W/{etag}", f'"other", {etag}'):
        check_if_match(header, etag)


def test_stale_if_match_is_412():
    old = etag_of("prof-1", "2026-11-21T10:00:00Z")
    new = etag_of("prof-1", "2026-11-21T10:00:01Z")
    assert old != new
    with pytest.raises(FailedPrecondition) as caught:
        check_if_match(old, new)
    assert caught.value.to_json()["error"]["code"] == 412


def test_strict_boolean_takes_only_json_booleans():
    from marshmallow import Schema, ValidationError

    from shared.schema_fields import StrictBoolean

    class Toggle(Schema):
        enabled = StrictBoolean()

    assert Toggle().load({"enabled": False}) == {"enabled": False}
    for value in ("yes", "true", 1, 0, None):
        with pytest.raises(ValidationError):
            Toggle().load({"enabled": value})
