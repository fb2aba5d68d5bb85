"""Semi-supervised ingredients: the masked consistency loss, the three thresholds, distribution
alignment and the strong view (on real Fashion-MNIST images, checked against PIL where PIL has the op)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from headstart.adapt.semi import (
    Consistency,
    DistributionAlignment,
    FixedThreshold,
    FlexThreshold,
    FreeThreshold,
    consistency_loss,
    rand_augment,
)
from headstart.adapt.semi.stream import UnlabeledStream
from headstart.adapt.semi.strong import autocontrast, equalize, pool, posterize
from headstart.adapt.semi.thresholds import build_threshold
from headstart.data.idx import open_idx
from headstart.data.views import recipe
from headstart.errors import HeadstartError


@pytest.fixture(scope="module")
def fmnist() -> torch.Tensor:
    """64 real Fashion-MNIST test images, uint8 (64, 1, 28, 28)."""
    return open_idx("fashion-mnist", "test").__getitems__(list(range(64)))[0]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---- the consistency loss ---------------------------------------------------------------------------


def test_consistency_loss__keeps_exactly_the_predictions_at_or_above_their_threshold():
    probs = torch.tensor([[0.95, 0.05], [0.94, 0.06], [0.3, 0.7], [0.1, 0.9]])
    strong = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 3.0]])
    truth = torch.tensor([0, 0, 0, 1])
    loss, counts = consistency_loss(strong, probs, torch.tensor([0.95, 0.7]), true_labels=truth)
    # rows 0 (0.95 >= 0.95, class 0), 2 (0.7 >= 0.7, class 1) and 3 are kept; row 1 (0.94) is not
    ce = F.cross_entropy(strong, torch.tensor([0, 0, 1, 1]), reduction="none")
    assert loss.item() == pytest.approx((ce[0] + ce[2] + ce[3]).item() / 4)
    # kept 3, kept and right 2 (row 2's pseudo-label 1 is wrong), right overall 3
    assert counts.tolist() == [4.0, 3.0, 2.0, 3.0]


def test_consistency_loss__nothing_kept_gives_zero_loss_with_a_gradient():
    strong = torch.randn(5, 3, requires_grad=True)
    loss, counts = consistency_loss(strong, torch.full((5, 3), 1 / 3), torch.full((3,), 0.95))
    loss.backward()
    assert loss.item() == 0.0 and counts[1].item() == 0.0
    assert strong.grad is not None and strong.grad.abs().sum().item() == 0.0


# ---- thresholds ---------------------------------------------------------------------------------------


def test_fixed_threshold__the_same_for_every_class_and_unchanged_by_updates():
    t = FixedThreshold(4, tau=0.9)
    t.update(torch.eye(4), torch.arange(4))
    assert t.per_class().tolist() == pytest.approx([0.9] * 4)


def confident(cls: int, n: int, k: int = 3) -> torch.Tensor:
    return F.one_hot(torch.full((n,), cls), k).float() * 0.97 + 0.01


UNSURE = torch.tensor([0.5, 0.3, 0.2])


def test_flexmatch__a_class_threshold_rises_with_its_learning_status():
    t = FlexThreshold(3, tau=0.95, pool_size=1000)
    assert t.per_class().tolist() == [0.0, 0.0, 0.0]  # warm-up: nothing learned, everything passes
    t.update(torch.cat([confident(0, 20), UNSURE.expand(60, 3)]), torch.arange(80))
    # beta_0 = 20 / max(20, 60 seen and unused) = 1/3 -> 0.95 * (1/3) / (5/3); the 920 unseen do not count
    assert t.per_class().tolist() == pytest.approx([0.95 * 0.2, 0.0, 0.0])
    t.update(confident(0, 40), torch.arange(20, 60))  # 60 confident of class 0, 20 unused
    assert t.per_class()[0].item() == pytest.approx(0.95)  # beta = 1: the full threshold
    t.update(confident(1, 30), torch.arange(60, 90))  # class 1 learned: its threshold rises, class 0 stays
    assert t.per_class().tolist() == pytest.approx([0.95, 0.95 * 0.5 / 1.5, 0.0])


def test_flexmatch__unsure_predictions_do_not_count_and_the_latest_sure_one_wins():
    t = FlexThreshold(3, tau=0.95, pool_size=10, warmup=False)
    t.update(UNSURE.expand(4, 3), torch.arange(4))
    assert t.selected.tolist() == [-1] * 4 + [-2] * 6  # seen and unused; unseen
    t.update(confident(2, 4), torch.arange(4))
    t.update(confident(1, 2), torch.arange(2))  # images 0 and 1 are now class 1
    t.update(UNSURE.expand(3, 3), torch.arange(3))  # an unsure prediction keeps the last sure label
    assert t.selected[:4].tolist() == [1, 1, 2, 2]
    assert t.per_class().tolist() == pytest.approx([0.0, 0.95, 0.95])  # no warm-up: beta = sigma / max sigma


def test_freematch__ema_of_confidence_and_class_probabilities():
    t = FreeThreshold(2, momentum=0.9)
    assert t.per_class().tolist() == pytest.approx([0.5, 0.5])
    t.update(torch.tensor([[0.8, 0.2], [0.6, 0.4]]), torch.arange(2))
    # global = 0.9 * 0.5 + 0.1 * 0.7 = 0.52; classes = 0.9 * 0.5 + 0.1 * (0.7, 0.3) = (0.52, 0.48)
    assert t.global_confidence.item() == pytest.approx(0.52)
    assert t.class_probs.tolist() == pytest.approx([0.52, 0.48])
    assert t.per_class().tolist() == pytest.approx([0.52, 0.48])  # 0.52 * (1, 0.48 / 0.52)


def test_build_threshold__an_unknown_method_lists_the_valid_ones():
    assert isinstance(build_threshold("flexmatch", num_classes=3, tau=0.9, pool_size=5), FlexThreshold)
    with pytest.raises(HeadstartError, match="fixmatch"):
        build_threshold("mixmatch", num_classes=3, tau=0.9, pool_size=5)


# ---- distribution alignment ------------------------------------------------------------------------------


def test_alignment__output_stays_normalised_and_starts_as_the_identity():
    align = DistributionAlignment.from_labels(torch.tensor([0, 0, 1, 2]), 3)
    assert align.prior.tolist() == pytest.approx([0.5, 0.25, 0.25], abs=1e-5)
    probs = torch.softmax(torch.randn(8, 3, generator=gen()), 1)
    assert torch.allclose(align(probs), probs, atol=1e-5)  # running == prior: nothing to correct yet
    for _ in range(50):  # the model keeps over-predicting class 2
        align.update(torch.tensor([[0.1, 0.1, 0.8]]).expand(16, 3))
    out = align(probs)
    assert torch.allclose(out.sum(1), torch.ones(8), atol=1e-5)
    assert (out[:, 2] < probs[:, 2]).all() and (out[:, 0] > probs[:, 0]).all()


# ---- the Consistency module ---------------------------------------------------------------------------


def test_consistency__state_updates_once_per_step_from_every_micro_batch_and_travels_in_state_dict():
    term = Consistency(FlexThreshold(3, tau=0.9, pool_size=8), DistributionAlignment(torch.ones(3)))
    logits = torch.tensor([[5.0, 0.0, 0.0]] * 2)
    term(logits, logits, torch.tensor([0, 1]), torch.tensor([0, 1]))
    term(logits, logits, torch.tensor([2, 3]), torch.tensor([0, 0]))
    assert term.threshold.selected.tolist() == [-2] * 8  # nothing changes before the optimizer step
    term.step()
    assert term.threshold.selected[:4].tolist() == [0, 0, 0, 0]
    assert term.summary(labels_known=True) == {"mask_rate": 1.0, "pseudo_label_accuracy": 0.75,
                                               "unlabeled_accuracy": 0.75}
    copy = Consistency(FlexThreshold(3, tau=0.9, pool_size=8), DistributionAlignment(torch.ones(3)))
    copy.load_state_dict(term.state_dict())
    assert torch.equal(copy.threshold.per_class(), term.threshold.per_class())
    assert torch.equal(copy.alignment.running, term.alignment.running)
    assert torch.equal(copy.recent, term.recent)


# ---- the strong view -------------------------------------------------------------------------------


def test_rand_augment__reproducible_from_the_seed_and_unlike_the_weak_view(fmnist):
    weak = recipe("supervised", 28)(fmnist, gen(0))[0]
    a, b, c = (rand_augment(weak, gen=gen(s)) for s in (1, 1, 2))
    assert a.shape == weak.shape and a.dtype == torch.float32 and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    changed = (a - weak).abs().flatten(1).mean(1)  # per image
    assert (changed > 0.02).float().mean().item() >= 0.95  # cutout alone is up to a quarter of the area
    assert changed.mean().item() > 0.08


def test_rand_augment__each_image_draws_distinct_ops(fmnist):
    """Without cutout, n_ops=1 changes fewer pixels than n_ops=3 on the same images."""
    x = fmnist.float() / 255
    one = (rand_augment(x, gen=gen(0), n_ops=1, cutout=0) - x).abs().mean().item()
    three = (rand_augment(x, gen=gen(0), n_ops=3, cutout=0) - x).abs().mean().item()
    assert three > one * 1.5
    assert "color" not in pool(1) and "color" in pool(3)


def pil_apply(images: torch.Tensor, fn) -> torch.Tensor:
    out = [np.asarray(fn(Image.fromarray(img[0].numpy()))) for img in images]
    return torch.from_numpy(np.stack(out))[:, None].float() / 255


def test_equalize_autocontrast_posterize__as_pil_on_real_images(fmnist):
    x = fmnist.float() / 255
    assert torch.allclose(equalize(x), pil_apply(fmnist, ImageOps.equalize), atol=1e-6)
    assert torch.allclose(autocontrast(x), pil_apply(fmnist, ImageOps.autocontrast), atol=1.01 / 255)
    bits = torch.full((len(x),), 5.0)
    pil = pil_apply(fmnist, lambda im: ImageOps.posterize(im, 5))
    assert torch.allclose(posterize(x, bits), pil, atol=1e-6)


# ---- the unlabeled stream ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def unlabeled():
    """1000 real Fashion-MNIST training images."""
    return open_idx("fashion-mnist", "train").subset(np.arange(1000))


def test_stream__a_pass_covers_the_pool_once_and_the_next_pass_reshuffles(unlabeled):
    s = UnlabeledStream(unlabeled, batch_size=64, seed=0)
    first = torch.cat([s.next()[2] for _ in range(s.per_pass)])  # 15 batches of 64
    assert len(first) == 960 and len(first.unique()) == 960
    second = torch.cat([s.next()[2] for _ in range(s.per_pass)])
    assert len(second.unique()) == 960 and not torch.equal(first, second)


def test_stream__resumes_from_the_count_of_batches_drawn(unlabeled):
    a = UnlabeledStream(unlabeled, batch_size=64, seed=3)
    for _ in range(20):  # into the second pass
        a.next()
    b = UnlabeledStream(unlabeled, batch_size=64, seed=3)
    b.drawn = 20
    images_a, labels_a, index_a = a.next()
    images_b, labels_b, index_b = b.next()
    assert torch.equal(index_a, index_b) and torch.equal(images_a, images_b)
    assert torch.equal(labels_a, labels_b)
    assert torch.equal(images_a, unlabeled.images[index_a])
    assert labels_a.tolist() == unlabeled.labels[index_a].tolist()
    other = UnlabeledStream(unlabeled, batch_size=64, seed=4)
    assert not torch.equal(other.indices(20), index_a)


def test_stream__ranks_draw_disjoint_halves_of_one_global_batch(unlabeled):
    r0, r1 = (UnlabeledStream(unlabeled, batch_size=32, seed=0, rank=r, world=2) for r in (0, 1))
    i0, i1 = r0.indices(5), r1.indices(5)
    assert len(i0) == len(i1) == 32 and not set(i0.tolist()) & set(i1.tolist())


def test_stream__a_pool_smaller_than_a_batch_is_refused(unlabeled):
    with pytest.raises(HeadstartError, match="fewer than one unlabeled batch"):
        UnlabeledStream(unlabeled.subset(np.arange(10)), batch_size=64, seed=0)
