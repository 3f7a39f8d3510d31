"""Every HTTP function's shared surface: health, OpenAPI, auth and the error envelope."""

import pytest

HTTP_FUNCTIONS = ["enroll", "expire_tokens", "policy", "commands", "reconcile_commands", "mcp"]
CLOUD_EVENT_FUNCTIONS = ["notifications", "rollouts"]


def envelope_of(response, code):
    assert response.status_code == code, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["status"] and error["message"]
    return error


@pytest.mark.parametrize("target", HTTP_FUNCTIONS)
def test_healthz_needs_no_token(function_apps, target):
    response = function_apps[target].test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


@pytest.mark.parametrize("target", HTTP_FUNCTIONS)
def test_openapi_document_is_served_without_token(function_apps, target):
    response = function_apps[target].test_client().get("/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    assert "/healthz" in document["paths"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["components"]["schemas"]["Error"]["properties"]["error"]


@pytest.mark.parametrize("target", ["expire_tokens", "reconcile_commands", "mcp"])
def test_protected_route_without_token_is_401(function_apps, target):
    error = envelope_of(function_apps[target].test_client().post("/"), 401)
    assert error["status"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("target", ["expire_tokens", "reconcile_commands", "mcp"])
def test_protected_route_with_garbage_token_is_401(function_apps, target):
    response = function_apps[target].test_client().post(
        "/", headers={"Authorization": "Bearer not.a.token"})
    assert envelope_of(response, 401)["status"] == "UNAUTHENTICATED"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("target", HTTP_FUNCTIONS)
def test_unknown_route_is_404_in_the_envelope(function_apps, target, admin_headers):
    response = function_apps[target].test_client().get("/no/such/thing", headers=admin_headers)
    assert envelope_of(response, 404)["status"] == "NOT_FOUND"


@pytest.mark.parametrize("target", HTTP_FUNCTIONS)
def test_routes_are_not_revealed_without_a_token(function_apps, target):
    client = function_apps[target].test_client()
    assert envelope_of(client.get("/no/such/thing"), 401)["status"] == "UNAUTHENTICATED"
    assert envelope_of(client.delete("/healthz"), 401)["status"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("target", HTTP_FUNCTIONS)
def test_wrong_method_is_405_in_the_envelope(function_apps, target, admin_headers):
    response = function_apps[target].test_client().delete("/healthz", headers=admin_headers)
    assert envelope_of(response, 405)["status"] == "METHOD_NOT_ALLOWED"
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("path", ["/robots.txt", "/favicon.ico"])
def test_framework_reserved_paths_answer_in_the_envelope(function_apps, path):
    response = function_apps["enroll"].test_client().get(path)
    assert envelope_of(response, 404)["status"] == "NOT_FOUND"


def test_enroll_document_describes_the_enrollment_contract(function_apps):
    document = function_apps["enroll"].test_client().get("/openapi.json").get_json()
    paths = document["paths"]
    for path, verbs in {"/users": {"get", "post"}, "/device-attributes": {"get", "post"},
                        "/enrollment-profiles": {"get", "post"},
                        "/enrollment-profiles/{profile_id}": {"get", "patch", "delete"},
                        "/enrollment-profiles/{profile_id}/qr.png": {"get"},
                        "/enrollment-profiles/{profile_id}/qr.svg": {"get"},
                        "/enrollment-rules": {"get", "put"}}.items():
        assert verbs <= set(paths[path]), path
    create = document["components"]["schemas"]["EnrollmentProfileCreate"]
    assert set(create["required"]) == {"name", "userName", "validityDays"}
    assert create["properties"]["validityDays"]["minimum"] == 1
    assert create["properties"]["validityDays"]["maximum"] == 30
    png = paths["/enrollment-profiles/{profile_id}/qr.png"]["get"]["responses"]["200"]
    assert "image/png" in png["content"]
    expiry = function_apps["expire_tokens"].test_client().get("/openapi.json").get_json()
    assert "post" in expiry["paths"]["/"]


def test_every_function_is_behind_the_gateway():
    from devstack.gateway import FUNCTIONS

    targets = {target for target, _source, _signature in FUNCTIONS.values()}
    assert targets == set(HTTP_FUNCTIONS) | set(CLOUD_EVENT_FUNCTIONS)


@pytest.fixture(scope="module")
def gateway_client(gcp_emulators):
    from werkzeug.test import Client

    from devstack.gateway import build_gateway

    return Client(build_gateway())


@pytest.mark.parametrize("target", CLOUD_EVENT_FUNCTIONS)
def test_cloud_event_function_healthz_is_answered_by_the_gateway(gateway_client, target):
    response = gateway_client.get(f"/{target}/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


@pytest.mark.parametrize("target", CLOUD_EVENT_FUNCTIONS)
def test_cloud_event_function_acknowledges_a_body_that_is_no_event(function_apps, firestore,
                                                                   target):
    # Pub/Sub would redeliver anything but a 2xx forever.
    response = function_apps[target].test_client().post(
        "/", data=b"not an event", content_type="application/json")
    assert response.status_code == 204


@pytest.mark.parametrize("target", CLOUD_EVENT_FUNCTIONS)
def test_cloud_event_function_takes_no_get(function_apps, target):
    assert function_apps[target].test_client().get("/").status_code == 405
