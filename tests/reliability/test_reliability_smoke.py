"""The reliability harness at tiny scale: one fault case (poison messages, durable mode) end to end, so it cannot rot.

Real processes throughout (recording mock server, nats-server, three `karez deploy` processes, sqlite store); the
full run is `make reliability`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_poison_case_durable_loses_nothing_and_dead_letters_the_poison(tmp_path):
    out = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "reliability/run.py", "--points", "3000", "--cases", "d_poison", "--modes", "durable",
         "--min-dispatch", "5", "--skip-load", "--skip-fuzz", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    (case,) = report["cases"]
    assert "error" not in case, case.get("error")
    assert case["mode"] == "durable" and case["drained"]
    assert case["points_sent"] >= 3000 and case["stored"] == case["points_sent"]
    assert case["lost"] == 0 and case["duplicated"] == 0 and case["dispatched_not_stored"] == 0
    assert case["stored_never_served"] == 0
    reasons = sorted((d["dlq_subject"], d["error"]) for d in case["dead_letters"])
    assert case["dead_lettered"] == 6
    by_role = {subject: [error for s, error in reasons if s == subject] for subject, _ in reasons}
    store, preprocess = by_role["karez.dlq.aggregator.tiro_store"], by_role["karez.dlq.converter.tiro_preprocess"]
    assert [e.split(" (")[0] for e in store] == [
        f"SharedColumnsNotFound: bucket KAREZ_SHARED_COLUMNS holds no shared columns {'0' * 32}",
        "frame schema 'other.model' is not known in this process",
        "message is not JSON",
    ]
    assert any(e.startswith("message is not JSON (") for e in preprocess)
    assert any(e.startswith("body is not frames/1+msgpack") for e in preprocess)
    assert report["summary"]["durable_guarantee_held"] is True
