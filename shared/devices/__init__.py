"""The device inventory, its projection from AMAPI devices, and device commands."""
