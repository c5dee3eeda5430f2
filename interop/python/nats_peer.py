"""A NATS peer written with nats-py and Python's CloudEvents SDK.

`receive URL N`: subscribes to `py.out.>`, prints `ready`, then one JSON line per
message (its headers, its payload, and for a structured message the event as the SDK
reads it), and exits after N messages (or 20 seconds).

`publish URL`: publishes three events to `py.in` — structured, binary (the SDK's
headers: `ce-*` and `content-type`), and bare JSON without headers — flushes, and
prints `published`.
"""

import asyncio
import json
import sys

import nats
from cloudevents.conversion import from_json, to_binary, to_structured
from cloudevents.http import CloudEvent


async def receive(url: str, count: int) -> None:
    client = await nats.connect(url)
    done = asyncio.Event()
    seen = 0

    async def on_message(message) -> None:
        nonlocal seen
        headers = dict(message.headers or {})
        report = {"subject": message.subject, "headers": headers}
        report["payload"] = message.data.decode("latin-1")
        if headers.get("content-type", "").startswith("application/cloudevents+json"):
            event = from_json(CloudEvent, message.data)
            report["attributes"] = {k: str(v) for k, v in event.get_attributes().items()}
            data = event.data
            report["data"] = data.decode("latin-1") if isinstance(data, bytes) else data
        print(json.dumps(report), flush=True)
        seen += 1
        if seen == count:
            done.set()

    await client.subscribe("py.out.>", cb=on_message)
    await client.flush()
    print("ready", flush=True)
    try:
        await asyncio.wait_for(done.wait(), timeout=20)
    finally:
        await client.close()


async def publish(url: str) -> None:
    client = await nats.connect(url)
    structured = CloudEvent(
        {"type": "py.structured", "source": "urn:python", "subject": "Zoë", "id": "py-1"},
        {"x": 1},
    )
    headers, body = to_structured(structured)
    await client.publish("py.in", body, headers={"content-type": headers["content-type"]})
    binary = CloudEvent(
        {
            "type": "py.binary",
            "source": "urn:python",
            "id": "py-2",
            "tenant": "acme",
            "datacontenttype": "application/json",
        },
        {"y": 2},
    )
    headers, body = to_binary(binary)
    await client.publish("py.in", body, headers={k: str(v) for k, v in headers.items()})
    bare = {"specversion": "1.0", "id": "py-3", "source": "urn:python", "type": "py.bare", "data": "plain"}
    await client.publish("py.in", json.dumps(bare).encode())
    await client.flush()
    await client.close()
    print("published", flush=True)


def main() -> None:
    mode, url = sys.argv[1], sys.argv[2]
    if mode == "receive":
        asyncio.run(receive(url, int(sys.argv[3])))
    elif mode == "publish":
        asyncio.run(publish(url))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
