"""Validation as users see it in the Prefect UI: a real `prefect server start` (UI on), one valid and one invalid
validate-window run, then headless chromium renders the runs list, the invalid run, the report and the completeness
chart; plus the window events on that server and the shipped automation alerting through a webhook.

Screenshots are kept in build/e2e-screenshots/ (the test artifacts).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from headless_chromium import HeadlessChromium, skip_without_chromium
from prefect_server import PREFECT, prefect_server

from karez.embedded_nats import EmbeddedNats
from tiro.examples import example_dir, example_files

ROOT = Path(__file__).resolve().parents[2]
RUNS = Path(__file__).with_name("validation_runs.py")
SCREENSHOTS = ROOT / "build" / "e2e-screenshots"
TEMPLATE = ROOT / "deployments" / "automations.yaml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`prefect server start` with its UI, on a free port; the environment that points clients at it."""
    home = tmp_path_factory.mktemp("prefect-ui-home")
    settings = {"PREFECT_SERVER_UI_ENABLED": "true", "PREFECT_LOGGING_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    with prefect_server(home, **settings) as running:
        yield {"env": running.env, "api": running.api, "ui": running.ui}


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append(json.loads(body or b"{}"))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def webhook():
    """A local HTTP endpoint standing in for Slack/Teams: records every notification POSTed to it."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/notify", _Webhook.received
    httpd.shutdown()
    httpd.server_close()


def _helper(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(RUNS), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def automations(server, webhook, tmp_path_factory):
    """The shipped template with a real notification block, created with `prefect automation create --from-file`."""
    block_id = _helper(server["env"], "block", webhook[0])
    path = tmp_path_factory.mktemp("automations") / "automations.yaml"
    path.write_text(TEMPLATE.read_text().replace("REPLACE_WITH_NOTIFICATION_BLOCK_ID", block_id))
    created = subprocess.run(
        [PREFECT, "automation", "create", "--from-file", str(path)],
        env=server["env"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    rows = httpx.post(f"{server['api']}/automations/filter", json={}, timeout=10).json()
    return {row["name"]: row for row in rows}


@pytest.fixture(scope="module")
def runs(server, automations, tmp_path_factory):
    """One valid and one invalid validate-window run on the server, their window results kept in a sqlite file."""
    store = f"sqlite:///{tmp_path_factory.mktemp('store') / 'tiro.db'}"
    scenario, uses = example_files(example_dir("datahall"))
    with EmbeddedNats() as nats_server:
        ids = json.loads(
            _helper(server["env"], "windows", nats_server.url, store, str(scenario), *(str(u) for u in uses))
        )
    return ids


def _poll(fetch, ready, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    value = fetch()
    while not ready(value) and time.monotonic() < deadline:
        time.sleep(0.5)  # events and automation actions are processed by server services on their own clock
        value = fetch()
    return value


def test_the_template_creates_both_automations(automations):
    assert {"tiro-invalid-validation-window", "tiro-validation-stopped"} <= set(automations)
    trigger = automations["tiro-invalid-validation-window"]["trigger"]
    assert trigger["expect"] == ["tiro.validation.window.invalid"] and trigger["posture"] == "Reactive"


def test_each_window_emits_one_event_and_invalid_ones_alert(server, runs, webhook):
    api = server["api"]

    def events() -> list[dict]:
        query = {"filter": {"event": {"prefix": ["tiro.validation.window."]}}, "limit": 50}
        return httpx.post(f"{api}/events/filter", json=query, timeout=10).json()["events"]

    found = _poll(events, lambda e: len(e) >= 3)
    names = sorted(e["event"] for e in found)
    assert names == ["tiro.validation.window.invalid"] * 2 + ["tiro.validation.window.valid"], names
    valid = next(e for e in found if e["event"].endswith(".valid"))
    assert valid["resource"]["prefect.resource.id"] == "tiro.validation.datahall"
    assert valid["payload"]["completeness"] == 1.0 and valid["payload"]["counts"]["missing"] == 0
    related = {r["prefect.resource.id"] for r in valid["related"]}
    assert f"prefect.flow-run.{runs['valid']}" in related  # the event points back at its run

    received = _poll(lambda: list(webhook[1]), lambda r: len(r) >= 2, timeout=90)
    assert len(received) >= 2, "the invalid-window automation did not notify"
    assert all("is INVALID" in r["text"] and "UTC" in r["subject"] for r in received)


def test_the_ui_shows_the_invalid_state_and_the_reports(server, runs):
    skip_without_chromium()
    api, ui = server["api"], server["ui"]
    invalid = httpx.get(f"{api}/flow_runs/{runs['invalid']}", timeout=10).json()
    assert invalid["state"]["type"] == "FAILED" and invalid["name"].startswith("INVALID · ")
    assert "is invalid" in invalid["state"]["message"]
    valid = httpx.get(f"{api}/flow_runs/{runs['valid']}", timeout=10).json()
    assert valid["name"].startswith("valid · 100.0% complete · ")
    artifacts = httpx.post(
        f"{api}/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [runs["invalid"]]}}}, timeout=10
    ).json()
    by_key = {a["key"]: a for a in artifacts}

    with HeadlessChromium() as browser:
        listed = browser.load(f"{ui}/runs", expect=["Failed", invalid["name"], valid["name"]])
        listed.screenshot(SCREENSHOTS / "runs-list.png")
        assert "Failed" in listed.text and invalid["name"] in listed.text and valid["name"] in listed.text

        # the page users watch: its default filter lists standard state names only, so the invalid run must be one
        deployment = browser.load(
            f"{ui}/deployments/deployment/{runs['deployment']}", expect=[valid["name"], invalid["name"], "Failed"]
        )
        deployment.screenshot(SCREENSHOTS / "deployment-runs.png")
        assert invalid["name"] in deployment.text and "Failed" in deployment.text

        # the run page shows the state message in the run's log, which the run's process sends on its own clock
        logs = _poll(
            lambda: httpx.post(
                f"{api}/logs/filter", json={"logs": {"flow_run_id": {"any_": [runs["invalid"]]}}}, timeout=10
            ).json(),
            lambda rows: any("is invalid" in row["message"] for row in rows),
        )
        assert any("is invalid" in row["message"] for row in logs), [row["message"] for row in logs]
        run_page = browser.load(
            f"{ui}/runs/flow-run/{runs['invalid']}", expect=["Failed", invalid["name"], "is invalid"], timeout=60
        )
        run_page.screenshot(SCREENSHOTS / "invalid-run.png")
        assert "is invalid" in run_page.text and invalid["name"] in run_page.text

        report = by_key["validation-window-report"]
        report_page = browser.load(
            f"{ui}/artifacts/artifact/{report['id']}",
            expect=["INVALID", "Window", "error(s)", report["description"], "allowed", "missing"],
        )
        report_page.screenshot(SCREENSHOTS / "window-report.png")
        assert report["description"] in report_page.text
        assert "allowed" in report_page.text and "missing" in report_page.text

        history = browser.load(f"{ui}/artifacts/key/validation-window-report", expect=[invalid["name"], valid["name"]])
        history.screenshot(SCREENSHOTS / "report-history.png")
        assert valid["name"] in history.text  # the history lists windows by name, not only by id

        chart = by_key["validation-completeness"]
        chart_page = browser.load(
            f"{ui}/artifacts/artifact/{chart['id']}", expect=["Completeness of the last", "INVALID", "█"]
        )
        chart_page.screenshot(SCREENSHOTS / "completeness-chart.png")
        assert 'src="data:image/svg+xml;base64,' in chart_page.html  # the chart is an image the UI rendered
        assert "INVALID" in chart_page.text and "█" in chart_page.text
