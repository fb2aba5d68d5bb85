"""Checkpoints by wall time and steps (`--checkpoint-every`), and resumed runs."""

from __future__ import annotations

import pytest

from headstart.errors import HeadstartError
from headstart.train.checkpointing import parse_every


@pytest.mark.parametrize("text, expected", [
    ("10m", (600.0, None)), ("30s", (30.0, None)), ("1.5h", (5400.0, None)), ("1000steps", (None, 1000)),
    ("off", (None, None)),
])
def test_parse_every__durations_and_steps(text, expected):
    assert parse_every(text) == expected


@pytest.mark.parametrize("text", ["10", "5min", "steps", "-1m", "1000 steps"])
def test_parse_every__error_names_the_forms(text):
    with pytest.raises(HeadstartError, match="10m, 30s, 1h or 1000steps"):
        parse_every(text)
