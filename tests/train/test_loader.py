"""ResumableLoader: a new shuffle each epoch from the seed, sharded over ranks, and a position that
resumes mid-epoch exactly (the kill-and-resume tests in tests/reliability use it end to end)."""

from __future__ import annotations

import pytest
import torch

import headstart.train.loader as loader_module
from headstart.data.imageset import collate
from headstart.train.callbacks import GlobalRNG
from headstart.train.loader import ResumableLoader


@pytest.fixture(scope="module")
def images(fmnist_test):
    return fmnist_test.subset(range(100))  # 100 real images: 6 batches of 16, 4 left over


def epoch(loader, n: int, e: int) -> list[list[int]]:
    """The first `n` batches of epoch `e`, each image named by its pixel sum."""
    loader.sampler.set_epoch(e)
    return [batch[0].flatten(1).sum(1).tolist() for batch in loader][:n]


def test_loader__each_epoch_a_new_shuffle_of_whole_batches(images):
    loader = ResumableLoader(images, batch_size=16, seed=3, collate_fn=collate)
    assert len(loader) == 6
    first, second = epoch(loader, 6, 0), epoch(loader, 6, 1)
    assert first != second and len(first) == 6 and all(len(b) == 16 for b in first)
    again = ResumableLoader(images, batch_size=16, seed=3, collate_fn=collate)
    assert epoch(again, 6, 0) == first and epoch(again, 6, 1) == second  # from (seed, epoch) alone
    other = ResumableLoader(images, batch_size=16, seed=4, collate_fn=collate)
    assert epoch(other, 6, 0) != first


@pytest.mark.parametrize("workers", [0, 1])
def test_loader__position_counts_batches_handed_out_and_resumes_exactly(images, workers):
    loader = ResumableLoader(images, batch_size=16, seed=3, collate_fn=collate, num_workers=workers)
    loader.sampler.set_epoch(1)
    it = iter(loader)
    seen = [next(it)[0].flatten(1).sum(1).tolist() for _ in range(2)]
    state = loader.state_dict()
    assert state == {"epoch": 1, "batches": 2, "seed": 3, "batch_size": 16, "n": 100}  # workers prefetch more
    rest = [b[0].flatten(1).sum(1).tolist() for b in it]
    resumed = ResumableLoader(images, batch_size=16, seed=3, collate_fn=collate, num_workers=workers)
    resumed.load_state_dict(state)
    resumed.sampler.set_epoch(1)  # Lightning sets the restored epoch again
    assert [b[0].flatten(1).sum(1).tolist() for b in resumed] == rest and len(seen + rest) == 6
    assert epoch(resumed, 6, 2) == epoch(ResumableLoader(images, batch_size=16, seed=3, collate_fn=collate), 6, 2)


def test_loader__saved_after_an_epoch_s_last_batch_starts_the_next(images):
    loader = ResumableLoader(images, batch_size=16, seed=3, collate_fn=collate)
    loader.load_state_dict({"epoch": 0, "batches": 6, "seed": 3, "batch_size": 16, "n": 100})
    assert loader.sampler.epoch == 1 and loader.sampler.skip == 0
    loader.load_state_dict({"epoch": 0, "batches": 2, "seed": 3, "batch_size": 32, "n": 100})  # other batch size
    assert loader.sampler.epoch == 1 and loader.sampler.skip == 0  # ignored: the epoch starts over


def test_loader__ranks_get_disjoint_shards(images, monkeypatch):
    shards = []
    for rank in (0, 1):
        monkeypatch.setattr(loader_module, "rank_and_world", lambda rank=rank: (rank, 2))
        sampler = ResumableLoader(images, batch_size=16, seed=3, collate_fn=collate).sampler
        shards.append(list(sampler))
        assert len(sampler) == 50
    assert not set(shards[0]) & set(shards[1]) and len(set(shards[0]) | set(shards[1])) == 100


def test_global_rng__restored_when_a_resumed_run_starts():
    saved = GlobalRNG().state_dict()
    expected = torch.rand(5)
    torch.rand(100)  # the interrupted process drew more; a new process starts elsewhere
    callback = GlobalRNG()
    callback.load_state_dict(saved)
    callback.on_train_start(None, None)
    assert torch.equal(torch.rand(5), expected)
