"""COSU configurations, their compilation into AMAPI policies, and the push to devices."""
