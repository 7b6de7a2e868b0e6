"""The GraphStore contract suite against a real ArangoDB, when `TIRO_TEST_ARANGO_URL` names one.

Credentials come from `TIRO_ARANGO_USERNAME` / `TIRO_ARANGO_PASSWORD`. Every test gets its own database, dropped
afterwards. Without the variable the module is skipped: no ArangoDB server can run on this machine.
"""

from __future__ import annotations

import os
import uuid

import pytest

URL = os.environ.get("TIRO_TEST_ARANGO_URL")
if not URL:
    pytest.skip(
        "TIRO_TEST_ARANGO_URL is not set (plus TIRO_ARANGO_USERNAME/TIRO_ARANGO_PASSWORD): no ArangoDB to test against",
        allow_module_level=True,
    )

from test_contract_graph import *  # noqa: E402, F403 - the same contract tests, run with the fixture below

from tiro.stores.arango import ArangoGraphStore  # noqa: E402


@pytest.fixture
def graph_store():
    """A fresh ArangoGraphStore in a database of its own (dropped after the test)."""
    db_name = f"tiro_test_{uuid.uuid4().hex[:12]}"
    store = ArangoGraphStore(URL, db_name=db_name, graph_name="scenario")
    yield store
    store.close()
    admin = ArangoGraphStore(URL)
    admin._database("_system").delete_database(db_name, ignore_missing=True)
    admin.close()
