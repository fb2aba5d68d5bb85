"""One test over every registered method: two optimizer steps on real Fashion-MNIST batches with
gradient accumulation, and the state that must move once per optimizer step (EMA teachers,
queues, centers) moves exactly then — never on a micro-batch that ends without a step."""

from __future__ import annotations

import math

import pytest
import torch
from lightning.pytorch.callbacks import Callback
from method_helpers import build, fashion_train, fit, fixed_views
from text_helpers import build_text, data_for

from headstart.export.weights import save_backbone
from headstart.methods import list_methods, method_class
from headstart.models.factory import create_backbone

BN_STATS = ("running_mean", "running_var", "num_batches_tracked")  # move with every forward, by design
MICRO, ACCUMULATE, STEPS = 16, 2, 2
MOVING = {"byol", "moco", "mocov3", "dino"}  # EMA teachers, queues, centers that must move at each step


def setup(name: str, tmp_path) -> tuple[str, dict]:
    """(model, method args) to build `name` with: resnet-mini and defaults unless a row says otherwise."""
    if method_class(name).modality == "text":  # real fortunes text on the mini transformer of its kind
        return ("headstart/gpt-mini" if name == "next-token" else "headstart/bert-mini"), {}
    if name == "mae":  # masked patches need a ViT
        return "headstart/vit-tiny", {}
    if name == "distill":  # a frozen teacher from a local weights file
        path = tmp_path / "teacher.safetensors"
        save_backbone(create_backbone("headstart/resnet-mini"), path, "headstart/resnet-mini")
        return "headstart/resnet-mini", {"teacher_weights": str(path)}
    return "headstart/resnet-mini", {}


def step_state(method) -> dict[str, torch.Tensor]:
    """Teacher parameters and the method's own buffers (queue, center), copied."""
    params = {n: p for n, p in method.named_parameters() if n.startswith("teacher")}
    buffers = {n: b for n, b in method.named_buffers() if not n.endswith(BN_STATS)
               and not n.startswith(("backbone.", "teacher_backbone."))}  # backbones hold only mean/std
    return {n: t.detach().clone() for n, t in {**params, **buffers}.items()}


def student_state(method) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in method.named_parameters() if p.requires_grad}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class Recorder(Callback):
    """State after every micro-batch (Lightning calls this after the optimizer step, if any)."""

    def __init__(self) -> None:
        self.steps: list[dict] = []
        self.students: list[dict] = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.steps.append(step_state(module))
        self.students.append(student_state(module))


@pytest.mark.parametrize("name", list_methods())
def test_two_accumulated_steps__state_moves_once_per_optimizer_step(name, tmp_path):
    text = method_class(name).modality == "text"
    model, args = setup(name, tmp_path)
    data = data_for(name, model) if text else fashion_train(MICRO * ACCUMULATE * STEPS)
    # planned for 100 steps without LR warm-up, of which 2 run: the middle of a run (warm-up starts at
    # LR 0, and a momentum schedule's last EMA step has momentum 1)
    make = build_text if text else build
    method = make(name, model=model, batch_size=MICRO * ACCUMULATE, warmup_fraction=0.0, **args)
    reference = make(name, model=model, batch_size=MICRO * ACCUMULATE, warmup_fraction=0.0, **args)
    probe = data.__getitems__(list(range(MICRO)))[0] if text else data.images[:MICRO]
    with torch.no_grad():
        loss_before = reference.loss(fixed_views(reference, probe))[0].item()
    initial, initial_student = step_state(method), student_state(method)
    losses, calls = [], []
    loss_fn, after_fn = method.loss, method.after_optimizer_step
    method.loss = lambda views: (out := loss_fn(views), losses.append(out[0].item()))[0]
    method.after_optimizer_step = lambda: (calls.append(method.global_step), after_fn())[1]
    rec = Recorder()

    fit(method, data, tmp_path / "run", steps=STEPS, batch_size=MICRO, accumulate=ACCUMULATE, callbacks=[rec])

    assert len(losses) == ACCUMULATE * STEPS and all(math.isfinite(x) for x in losses), losses
    assert len(calls) == STEPS
    # the optimizer steps after micro-batches 2 and 4 only
    assert same(rec.students[0], initial_student) and not same(rec.students[1], rec.students[0])
    assert same(rec.students[2], rec.students[1]) and not same(rec.students[3], rec.students[2])
    # teachers, queues and centers never move between optimizer steps; if they move, they move at each
    assert same(rec.steps[0], initial), f"{name} updated its teacher/queue/center on a micro-batch"
    assert same(rec.steps[2], rec.steps[1]), f"{name} updated its teacher/queue/center on a micro-batch"
    if name in MOVING or not same(rec.steps[3], initial):
        assert not same(rec.steps[1], rec.steps[0]), f"{name} did not update its state at optimizer step 1"
        assert not same(rec.steps[3], rec.steps[2]), f"{name} did not update its state at optimizer step 2"
    with torch.no_grad():
        loss_after = method.loss(fixed_views(method, probe))[0].item()
    assert math.isfinite(loss_after) and abs(loss_after - loss_before) > 1e-5, (loss_before, loss_after)
