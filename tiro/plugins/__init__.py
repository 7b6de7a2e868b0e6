"""Plugins that join Tiro to other tools (Karez roles)."""
