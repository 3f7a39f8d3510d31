import pytest

from shared.errors import InvalidArgument
from shared.pagination import MAX_PAGE_SIZE, decode_page_token, encode_page_token, page_size


@pytest.mark.parametrize(("raw", "expected"), [(None, 10), ("1", 1), ("100", 100),
                                               ("101", MAX_PAGE_SIZE), ("5000", MAX_PAGE_SIZE)])
def test_page_size_defaults_and_coerces(raw, expected):
    assert page_size(raw) == expected


@pytest.mark.parametrize("raw", ["0", "-3", "ten", "1.5", "", " "])
def test_page_size_below_one_empty_or_not_integer_is_400(raw):
    with pytest.raises(InvalidArgument) as caught:
        page_size(raw)
    assert caught.value.details[0].field == "pageSize"


def test_page_token_round_trips_within_its_list():
    token = encode_page_token({"after": "prof-42", "n": 3}, "enrollmentProfiles|space=global")
    assert decode_page_token(token, "enrollmentProfiles|space=global") == {"after": "prof-42",
                                                                           "n": 3}


def test_page_token_is_opaque():
    token = encode_page_token({"after": "prof-42"}, "scope")
    assert "prof-42" not in token


@pytest.mark.parametrize("mutate", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),          # signature changed
    lambda t: ("e" if t[0] != "e" else "f") + t[1:],             # cursor changed
    lambda t: t.split(".")[0],                                   # signature dropped
    lambda t: "garbage",
    lambda t: "",
])
def test_tampered_page_token_is_400(mutate):
    token = encode_page_token({"after": "prof-42"}, "scope")
    with pytest.raises(InvalidArgument) as caught:
        decode_page_token(mutate(token), "scope")
    assert caught.value.details[0].field == "pageToken"


def test_page_token_from_another_list_is_400():
    token = encode_page_token({"after": "prof-42"}, "enrollmentProfiles|space=global")
    with pytest.raises(InvalidArgument):
        decode_page_token(token, "enrollmentProfiles|space=paris")
