"""Fixtures of the fuzz tests: widget messages recorded as a browser would receive them."""

from __future__ import annotations

import pytest

from tests.support.comms import Msg, recording_comms


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[Msg]:
    return recording_comms(monkeypatch)
