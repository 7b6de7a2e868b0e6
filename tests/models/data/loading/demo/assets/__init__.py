"""Tiro 0.13's deleted demo asset library, rebuilt from its description (package with submodule data_hall)."""
