"""Benchmarks: scripts that print numbers (`make bench`)."""
