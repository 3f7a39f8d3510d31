"""The HTTP edge: routing, request bodies, auth, idempotency, OpenAPI; only it knows werkzeug."""
