"""AMAPI Pub/Sub notifications: decoding, intake and the handlers per type."""
