"""MoCo v2: the queue takes every micro-batch's keys once per optimizer step, wraps around keeping
the newest keys, and the loss is MoCo's InfoNCE with the queue as negatives."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from method_helpers import build, fashion_train, fixed_views, run_ranks

from headstart.methods.moco.queue import KeyQueue, info_nce


def teacher_keys(method, views: list[torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        z = method.teacher_projection(method.teacher_backbone(torch.cat(views[:2])))
    return F.normalize(z.float(), dim=1)  # (2B, out_dim)


def test_queue__takes_every_micro_batchs_keys_at_the_optimizer_step_only():
    images = fashion_train(32).images
    method = build("moco", batch_size=32, queue_size=96)
    views = [fixed_views(method, images[:16], seed=0), fixed_views(method, images[16:], seed=1)]
    expected = torch.cat([teacher_keys(method, v) for v in views])  # (64, 128): both micro-batches, in order
    before = method.queue.keys.clone()
    for v in views:  # two micro-batches of one optimizer step
        method.loss(v)
    assert torch.equal(method.queue.keys, before)  # contrasted against the same queue, not yet updated
    method.after_optimizer_step()
    assert int(method.queue.ptr) == 64
    torch.testing.assert_close(method.queue.keys[:64], expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(method.queue.keys[64:], before[64:])
    assert method.queue.flush() == 0  # nothing pending twice


def test_queue__wraps_around_and_keeps_the_newest_keys():
    queue = KeyQueue(size=10, dim=4)
    first, second, third = torch.randn(6, 4), torch.randn(7, 4), torch.randn(25, 4)
    queue.add(first)
    assert queue.flush() == 6 and int(queue.ptr) == 6
    queue.add(second)
    queue.flush()
    assert int(queue.ptr) == 3
    assert torch.equal(queue.keys[6:], second[:4]) and torch.equal(queue.keys[:3], second[4:])
    assert torch.equal(queue.keys[3:6], first[3:])
    queue.add(third)
    assert queue.flush() == 10 and int(queue.ptr) == 3  # more keys than slots: the 10 newest
    assert torch.equal(queue.keys[3:], third[-10:-3]) and torch.equal(queue.keys[:3], third[-3:])


def test_info_nce__equals_the_closed_form_for_orthogonal_negatives():
    eye = torch.eye(8)
    q = k = eye[:4]            # each query equals its key: positive logit 1/T
    queue = eye[4:]            # negatives orthogonal to every query: logits 0
    t = 0.2
    expected = math.log(1 + 4 * math.exp(-1 / t))  # -log(e^{1/T} / (e^{1/T} + K))
    assert abs(info_nce(q, k, queue, t).item() - expected) < 1e-6
    assert info_nce(q, eye[[1, 2, 3, 0]], queue, t).item() > 1.0  # wrong positives: a large loss


def _enqueue_on_rank(rank: int) -> torch.Tensor:
    torch.manual_seed(0)  # the same initial queue on every rank, as from one seed
    queue = KeyQueue(size=16, dim=4)
    queue.add(torch.full((2, 4), float(rank)))      # micro-batch 1 of this rank
    queue.add(torch.full((1, 4), 10.0 + rank))      # micro-batch 2
    assert queue.flush() == 6 and int(queue.ptr) == 6
    return queue.keys[:6, 0]


def test_queue__under_ddp_every_rank_enqueues_the_keys_of_all_ranks(tmp_path):
    per_rank = run_ranks(_enqueue_on_rank, tmp_path)
    expected = torch.tensor([0.0, 0.0, 10.0, 1.0, 1.0, 11.0])  # rank 0's keys, then rank 1's
    for keys in per_rank:
        assert torch.equal(keys, expected), keys
