"""--compile: auto compiles on GPUs only, on/off as said; the module is compiled in place."""

from __future__ import annotations

import torch
from torch import nn

from headstart.train.compiling import compile_backbone, wants_compile


def test_auto_follows_the_device_and_on_off_are_obeyed(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not wants_compile("auto") and wants_compile("on") and not wants_compile("off")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert wants_compile("auto") and not wants_compile("auto", "cpu") and not wants_compile("off")


def test_compiled_in_place_keeps_state_dict_names():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    names = list(net.state_dict())
    compile_backbone(net, "off")
    assert net._compiled_call_impl is None
    compile_backbone(net, "on")
    assert net._compiled_call_impl is not None and list(net.state_dict()) == names
