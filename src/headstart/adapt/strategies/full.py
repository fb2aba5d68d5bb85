"""`full`: every backbone parameter trains with the head (the standard fine-tuning baseline)."""

from __future__ import annotations

from headstart.adapt.strategies.base import Strategy


class Full(Strategy):
    name = "full"
