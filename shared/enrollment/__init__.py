"""Enrollment: profiles and tokens, rules, the enrollment gate, device users and attributes."""
