"""llmcourse.runtime: device choice, seeding, the progress bar and process groups."""

import io
import random
import time

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, WeightedRandomSampler

from llmcourse.data import make_loader
from llmcourse.runtime import (
    device,
    distributed_loader,
    is_distributed,
    is_main_process,
    mode,
    progress_bar,
    seed,
    setup_distributed,
    world_size,
)


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_device_order(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert device().type == expected
    assert device("cpu") == torch.device("cpu")


def test_device_bad_names():
    with pytest.raises(ValueError, match=r"unknown device 'tpu'; expected one of"):
        device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"device 'cuda' is not available"):
            device("cuda")


def test_seed_repeats_every_generator():
    seed(7)
    first = (random.random(), np.random.rand(), torch.rand(3))
    seed(7)
    again = (random.random(), np.random.rand(), torch.rand(3))
    assert first[0] == again[0] and first[1] == again[1]
    torch.testing.assert_close(first[2], again[2])
    seed(8)
    assert random.random() != first[0]


def test_seed_bad_values():
    with pytest.raises(ValueError, match="seed must be an int >= 0, got -1"):
        seed(-1)
    for bad in (1.5, "1", True):
        with pytest.raises(TypeError, match="seed must be an int, got"):
            seed(bad)


def test_mode_sets_and_restores_every_submodule_even_on_error():
    model = torch.nn.Sequential(torch.nn.Dropout(0.5), torch.nn.Dropout(0.5)).train()
    model[1].eval()  # a mixed model: the outer and first layer training, the second not
    with mode(model):
        assert [m.training for m in model.modules()] == [False, False, False]
    assert [m.training for m in model.modules()] == [True, True, False]
    with pytest.raises(RuntimeError, match="boom"), mode(model, training=True):
        assert all(m.training for m in model.modules())
        raise RuntimeError("boom")
    assert [m.training for m in model.modules()] == [True, True, False]
    with (
        pytest.raises(TypeError, match="training must be True or False, got int 1"),
        mode(model, training=1),
    ):
        pass
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got str"), mode("model"):
        pass


def test_progress_bar_redraws_at_most_once_a_second():
    # tqdm's own default redraws ten times a second: 25 redraws in this loop
    out = io.StringIO()
    bar = progress_bar(10**9, desc="loop", file=out)
    start = time.monotonic()
    while time.monotonic() - start < 2.5:
        bar.update(1)
    bar.close()
    redraws = out.getvalue().count("\r")
    assert 3 <= redraws <= 5, out.getvalue()
    assert "loop:" in out.getvalue()


def test_without_torchrun_there_is_one_main_process(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert setup_distributed() is False
    assert not is_distributed() and is_main_process() and world_size() == 1
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE must be an int >= 1, got 'two'"):
        setup_distributed()


def _order(loader):
    return list(loader.sampler)


def test_an_unshuffled_loader_keeps_its_order_in_each_process():
    ids = torch.arange(200)
    unshuffled = make_loader(ids, batch_size=2, max_length=4, shuffle=False)  # has a generator
    assert unshuffled.generator is not None
    shares = [distributed_loader(unshuffled, 7, num_replicas=2, rank=r) for r in (0, 1)]
    n = len(unshuffled.dataset)
    assert _order(shares[0]) == list(range(0, n - 1, 2))
    assert _order(shares[1]) == list(range(1, n, 2))
    assert shares[0].batch_size == 2 and shares[0].collate_fn is unshuffled.collate_fn


def test_a_shuffled_loader_is_shuffled_the_same_way_in_each_process():
    shuffled = make_loader(torch.arange(200), batch_size=2, max_length=4, shuffle=True)
    first, second = (distributed_loader(shuffled, 7, num_replicas=2, rank=r) for r in (0, 1))
    together = _order(first) + _order(second)
    n = len(shuffled.dataset)  # 49 windows: one is left out so both shares are equal
    assert len(set(together)) == len(together) == n - 1  # a split, no overlap
    assert set(together) <= set(range(n))
    assert _order(first) != sorted(_order(first))
    again = distributed_loader(shuffled, 7, num_replicas=2, rank=0)
    assert _order(again) == _order(first)  # the seed fixes the order


def test_distributed_loader_bad_input():
    data = list(range(10))
    weighted = DataLoader(data, batch_size=2, sampler=WeightedRandomSampler([1.0] * 10, 10))
    with pytest.raises(TypeError, match="cannot split a loader whose sampler is a Weighted"):
        distributed_loader(weighted, 0, num_replicas=2, rank=0)
    plain = DataLoader(data, batch_size=2)
    with pytest.raises(ValueError, match="needs num_replicas and rank, or a process group"):
        distributed_loader(plain, 0)
    with pytest.raises(ValueError, match="rank must be < num_replicas 2, got 2"):
        distributed_loader(plain, 0, num_replicas=2, rank=2)
    with pytest.raises(TypeError, match="seed must be an int, got bool True"):
        distributed_loader(plain, True, num_replicas=2, rank=0)
    with pytest.raises(TypeError, match="loader must be a torch DataLoader, got list"):
        distributed_loader(data, 0, num_replicas=2, rank=0)
    unbatched = DataLoader(data, batch_size=None)
    with pytest.raises(ValueError, match="needs a loader built with batch_size"):
        distributed_loader(unbatched, 0, num_replicas=2, rank=0)
