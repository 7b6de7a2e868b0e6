"""Helper process of test_validation_ui.py: talks to the real Prefect server named by $PREFECT_API_URL.

`python validation_runs.py block WEBHOOK_URL` saves a custom-webhook notification block and prints its id.
`python validation_runs.py windows NATS_URL STORE_URL SCENARIO USES...` publishes the example's points, then runs one
valid and one invalid (empty) window as runs of a `validate-window` deployment, and prints their run ids and the
deployment's id as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import orjson


def save_block(webhook_url: str) -> str:
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    block = CustomWebhookNotificationBlock(
        name="tiro-alert", url=webhook_url, method="POST", json_data={"subject": "{{subject}}", "text": "{{body}}"}
    )
    return str(block.save("tiro-alert", overwrite=True))


async def publish_points(url: str) -> int:
    from tiro.mock.service import example_service

    service = example_service(seed=3, faulty=0.0)
    points, _ = service.batch(service.listed)
    items = [{"path": p, "result": dp, "_karez": {"category": "validation_data"}} for p, dp in points.items()]
    nc = await nats.connect(url)
    js = nc.jetstream()
    for i in range(0, len(items), 50):
        await js.publish("karez.validation_data.update_category_for_validator", orjson.dumps(items[i : i + 50]))
    await nc.close()
    return len(items)


async def deployment_run(deployment_id: Any, **parameters: Any) -> Any:
    """One validate-window run of the deployment, executed here as a worker would; its final state."""
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow_async

    from tiro_prefect.flows.validation import validate_window

    async with get_client() as client:
        run = await client.create_flow_run_from_deployment(deployment_id, parameters=parameters)
    return await run_flow_async(validate_window, flow_run=run, parameters=parameters, return_type="state")


async def run_windows(nats_url: str, store: str, scenario: str, uses: list[str]) -> dict[str, str]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        flow_id = await client.create_flow_from_name("validate-window")
        deployment_id = await client.create_deployment(flow_id=flow_id, name="validate-window")
    common = {"scenario": scenario, "uses": uses, "nats_url": nats_url, "results_store": store}
    await deployment_run(deployment_id, window=5, **common)  # creates the retention stream (an empty window)
    await publish_points(nats_url)
    valid = await deployment_run(deployment_id, window=30, **common)
    now = datetime.now(UTC)
    start, end = (now - timedelta(hours=2)).isoformat(), (now - timedelta(hours=1)).isoformat()
    invalid = await deployment_run(deployment_id, start=start, end=end, **common)
    assert valid.type.value == "COMPLETED" and invalid.type.value == "FAILED", (valid, invalid)
    return {
        "valid": str(valid.state_details.flow_run_id),
        "invalid": str(invalid.state_details.flow_run_id),
        "deployment": str(deployment_id),
    }


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "block":
        print(save_block(args[0]))
    else:
        print(json.dumps(asyncio.run(run_windows(args[0], args[1], args[2], args[3:]))))
