"""Widget comms that record what a browser would receive, for in-process widget tests.

ipywidgets 8 creates each widget's comm through ``comm.create_comm``, which the ``comm`` package
documents as the hook to replace; without a kernel it makes a ``DummyComm`` whose messages go
nowhere. ``recording_comms`` replaces it with one that records every message: when, from which
thread, of which type, for which widget.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import comm
import pytest


@dataclass
class Msg:
    at: float
    thread: str
    msg_type: str
    comm_id: str
    data: dict[str, Any]


def recording_comms(monkeypatch: pytest.MonkeyPatch) -> list[Msg]:
    messages: list[Msg] = []

    class RecordingComm(comm.DummyComm):
        def publish_msg(
            self,
            msg_type: str,
            data: Any = None,
            metadata: Any = None,
            buffers: Any = None,
            **keys: Any,
        ) -> None:
            messages.append(
                Msg(
                    time.monotonic(),
                    threading.current_thread().name,
                    msg_type,
                    self.comm_id,
                    data or {},
                )
            )

    monkeypatch.setattr(comm, "create_comm", RecordingComm)
    return messages
