"""Opening a JetStream key-value bucket that several instances may be creating at the same moment."""

from __future__ import annotations

import asyncio
import logging
import time

from nats.js.api import KeyValueConfig, StorageType
from nats.js.client import JetStreamContext
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

logger = logging.getLogger("karez")

BUCKET_WAIT = 30.0  # seconds to keep trying to open a bucket that another instance may be creating right now


async def open_bucket(js: JetStreamContext, config: KeyValueConfig) -> tuple[KeyValue, KeyValue.BucketStatus]:
    """Open the bucket (created with `config`, on file, when missing) and read its status.

    Instances that start together race to create it, and on a cluster a bucket just created answers nothing until its
    replicas have elected a leader (measured: 5 of 15 concurrent opens on three nodes timed out), so timeouts are
    retried for `BUCKET_WAIT` seconds. Other errors (a server without JetStream answers at once) are not."""
    config.storage = StorageType.FILE
    deadline = time.monotonic() + BUCKET_WAIT
    while True:
        try:
            try:
                kv = await js.key_value(config.bucket)
            except (BucketNotFoundError, NotFoundError):
                kv = await js.create_key_value(config)
            return kv, await kv.status()
        except TimeoutError as e:  # nats-py's timeouts are TimeoutErrors too
            if time.monotonic() >= deadline:
                raise
            logger.debug("bucket %s not ready (%s); trying again", config.bucket, e)
            await asyncio.sleep(0.25)
