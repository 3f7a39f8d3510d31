"""The one door to the Android Management API: a lazily built client, retries, error classes."""
