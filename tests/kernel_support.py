"""A real IPython kernel for tests (jupyter_client), and reading its iopub messages."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def running_kernel(base: Path, setup: str = "") -> Iterator[tuple[Any, Any]]:
    """(manager, client) of a fresh kernel; `setup` is executed first. Shut down at the end."""
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name="python3", connection_file=str(base / "kernel.json"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    manager.start_kernel(env={**env, "IPYTHONDIR": str(base / "ipython")})
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        if setup:
            execute(client, setup)
        yield manager, client
    finally:
        client.stop_channels()
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)


def execute(client: Any, code: str, on_display: Any = None) -> list[dict[str, Any]]:
    """Run `code`; the iopub messages until the kernel is idle again, of any parent."""
    msg_id = client.execute(code)
    messages = []
    while True:
        message = client.get_iopub_msg(timeout=30)
        message["mine"] = message["parent_header"].get("msg_id") == msg_id
        messages.append(message)
        if message["mine"] and message["msg_type"] == "display_data" and on_display:
            on_display()
            on_display = None
        if message["mine"] and message["content"].get("execution_state") == "idle":
            return messages


def of_type(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The contents of the messages of one type that the executed cell itself sent."""
    return [m["content"] for m in messages if m["mine"] and m["msg_type"] == kind]


def printed(messages: list[dict[str, Any]]) -> str:
    return "".join(content["text"] for content in of_type(messages, "stream"))


def synced_outputs(messages: list[dict[str, Any]]) -> str:
    """The text an Output widget received, from the widget comm messages (any parent)."""
    return "".join(
        output.get("text", "")
        for message in messages
        if message["msg_type"] == "comm_msg"
        for output in message["content"]["data"].get("state", {}).get("outputs", ())
    )
