"""Ids and query parameters that Firestore cannot take are refused at the edge, never a 500."""

import re

import pytest

BAD_IDS = ["__main__", "__x__", "%2E%2E", "%2E", "x" * 600]
HTTP_FUNCTIONS = ("enroll", "policy", "commands")


def id_routes(app):
    """Every (method, path template) of a function that takes an id in its path."""
    document = app.test_client().get("/openapi.json").get_json()
    for path, operations in document["paths"].items():
        if "{" in path:
            for method in operations:
                if method in ("get", "patch", "delete", "post"):
                    yield method.upper(), path


@pytest.mark.parametrize("function", HTTP_FUNCTIONS)
def test_every_id_route_answers_404_for_ids_firestore_cannot_store(function, function_apps,
                                                                   admin_headers, firestore):
    app = function_apps[function]
    routes = list(id_routes(app))
    assert routes, "every HTTP function has routes with ids"
    client = app.test_client()
    for method, template in routes:
        for bad in BAD_IDS:
            path = re.sub(r"\{[^}]+\}", bad, template)
            response = client.open(path, method=method, json={}, headers=admin_headers)
            assert response.status_code == 404, (method, path, response.get_data(as_text=True))
            assert response.get_json()["error"]["status"] == "NOT_FOUND"
            anonymous = client.open(path, method=method, json={})
            assert anonymous.status_code == 401, (method, path)


@pytest.mark.parametrize(("function", "path", "parameter"), [
    ("enroll", "/users?prefix=", "prefix"),
    ("enroll", "/enrollment-profiles?status=", "status"),
    ("policy", "/audit-log?principal=", "principal"),
    ("commands", "/devices?userName=", "userName"),
    ("commands", "/devices?label=", "label"),
    ("policy", "/cosu-configs?pageToken=", "pageToken"),
])
def test_overlong_query_parameters_are_400_naming_them(function, path, parameter,
                                                       function_apps, admin_headers, firestore):
    response = function_apps[function].test_client().get(path + "é" * 2500,
                                                          headers=admin_headers)
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["details"][0]["field"] == parameter
