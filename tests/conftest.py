"""Test-wide settings: Prefect runs against a throw-away in-memory API, never a user's profile or server."""

from __future__ import annotations

import os
import tempfile

# Set before anything imports prefect (see ../shared/spec/prefect-notes.md): a temp PREFECT_HOME, the in-memory
# database and no analytics, so flow tests start in seconds and never touch a real profile.
_prefect_home = tempfile.mkdtemp(prefix="tiro-prefect-home-")
os.environ["PREFECT_HOME"] = _prefect_home
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("PREFECT_PROFILE", None)
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_ENABLED", "true")
os.environ.setdefault("PREFECT_SERVER_DATABASE_CONNECTION_URL", "sqlite+aiosqlite:///:memory:")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_UI_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
