"""Loading local weights: a file that does not cover the model is refused, naming counts and tensors."""

from __future__ import annotations

import warnings

import pytest
import torch
from safetensors.torch import save_file

from headstart.errors import HeadstartError
from headstart.models.factory import create_backbone
from headstart.models.weights import PartialWeightsWarning, load_weights


def _saved(tmp_path, state) -> str:
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return str(path)


@pytest.fixture()
def mini_state():
    torch.manual_seed(1)
    return create_backbone("headstart/resnet-mini").module.state_dict()


def test_load_weights__full_file_is_exact(tmp_path, mini_state):
    target = create_backbone("headstart/resnet-mini").module
    load_weights(target, _saved(tmp_path, mini_state))
    assert all(torch.equal(target.state_dict()[k], v) for k, v in mini_state.items())


def test_load_weights__error_missing_tensors_counted_and_named(tmp_path, mini_state):
    dropped = [k for k in mini_state if k.endswith(".weight")][:4]
    path = _saved(tmp_path, {k: v for k, v in mini_state.items() if k not in dropped})
    with pytest.raises(HeadstartError) as err:
        load_weights(create_backbone("headstart/resnet-mini").module, path)
    total = sum(1 for k in mini_state if not k.endswith("num_batches_tracked"))
    text = str(err.value)
    assert f"{total - 4} of {total} model tensors found" in text and "4 missing" in text
    assert dropped[0] in text and "--allow-partial" in text


def test_load_weights__error_unexpected_tensor(tmp_path, mini_state):
    path = _saved(tmp_path, {**mini_state, "extra.proj.weight": torch.ones(3, 3)})
    with pytest.raises(HeadstartError, match=r"1 unexpected \(e.g. extra.proj.weight\)"):
        load_weights(create_backbone("headstart/resnet-mini").module, path)


def test_load_weights__error_mis_shaped(tmp_path, mini_state):
    key = next(k for k, v in mini_state.items() if v.ndim == 4)
    bad = {**mini_state, key: torch.zeros(mini_state[key].shape[0] + 1, *mini_state[key].shape[1:])}
    with pytest.raises(HeadstartError, match="1 mis-shaped"):
        load_weights(create_backbone("headstart/resnet-mini").module, _saved(tmp_path, bad))


def test_load_weights__error_other_names_not_mapped_by_position(tmp_path, mini_state):
    renamed = {f"layer_{i}": v for i, v in enumerate(mini_state.values())}  # same order and shapes
    with pytest.raises(HeadstartError, match="0 of .* model tensors found"):
        load_weights(create_backbone("headstart/resnet-mini").module, _saved(tmp_path, renamed))


def test_load_weights__allow_partial_loads_what_fits_and_warns(tmp_path, mini_state):
    dropped = next(k for k in mini_state if k.endswith(".weight"))
    path = _saved(tmp_path, {k: v for k, v in mini_state.items() if k != dropped})
    target = create_backbone("headstart/resnet-mini").module
    before = target.state_dict()[dropped].clone()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_weights(target, path, allow_partial=True)
    assert [w.category for w in caught] == [PartialWeightsWarning] and "1 missing" in str(caught[0].message)
    after = target.state_dict()
    assert torch.equal(after[dropped], before)
    assert all(torch.equal(after[k], v) for k, v in mini_state.items() if k != dropped)


def test_load_weights__library_classifier_left_out(tmp_path):
    import torchvision

    torch.manual_seed(2)
    full = torchvision.models.resnet18(weights=None).state_dict()  # with fc.weight / fc.bias
    target = create_backbone("torchvision/resnet18").module
    load_weights(target, _saved(tmp_path, full))
    assert torch.equal(target.state_dict()["layer4.1.conv2.weight"], full["layer4.1.conv2.weight"])


def test_create_backbone__allow_partial_passed_through(tmp_path, mini_state):
    path = _saved(tmp_path, dict(list(mini_state.items())[:-3]))
    with pytest.raises(HeadstartError, match="do not fit"):
        create_backbone("headstart/resnet-mini", weights=path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PartialWeightsWarning)
        create_backbone("headstart/resnet-mini", weights=path, allow_partial=True)
