"""WiSE-FT blending: alpha = 0 is the start backbone, 1 the fine-tuned one; the sweep picks on validation."""

from __future__ import annotations

import torch

from headstart.adapt.head import Classifier
from headstart.adapt.wise import apply_blend, backbone_state, blend_states, sweep_blend
from headstart.models.factory import create_backbone


def two_states():
    torch.manual_seed(0)
    start = create_backbone("headstart/resnet-mini").module.state_dict()
    torch.manual_seed(1)
    tuned_backbone = create_backbone("headstart/resnet-mini")
    for m in tuned_backbone.modules():  # give BatchNorm buffers non-default values
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_()
            m.num_batches_tracked.fill_(7)
    return start, tuned_backbone


def test_blend__alpha_0_gives_start_and_1_gives_tuned():
    start, tuned_backbone = two_states()
    tuned = tuned_backbone.module.state_dict()
    for alpha, want in ((0.0, start), (1.0, tuned)):
        out = blend_states(start, tuned, alpha)
        for key in tuned:
            if tuned[key].is_floating_point():
                assert torch.equal(out[key], want[key]), key
    mid = blend_states(start, tuned, 0.5)
    key = "stages.2.0.conv1.weight"
    torch.testing.assert_close(mid[key], (start[key] + tuned[key]) / 2)
    assert int(mid["stem.1.num_batches_tracked"]) == 7  # integer buffers keep the fine-tuned value


def test_apply_blend__changes_backbone_only_and_keeps_head():
    start, tuned_backbone = two_states()
    model = Classifier(tuned_backbone, ["a", "b"])
    head = model.head.weight.detach().clone()
    apply_blend(model, start, 0.0)
    assert all(torch.equal(v, start[k]) for k, v in backbone_state(model).items() if v.is_floating_point())
    assert torch.equal(model.head.weight, head)


def test_sweep_blend__picks_the_best_alpha_and_leaves_the_model_there():
    start, tuned_backbone = two_states()
    model = Classifier(tuned_backbone, ["a", "b"])
    tuned = backbone_state(model)
    key = "stages.3.0.conv2.weight"

    def score(m):  # a validation score that peaks at alpha = 0.25
        w = m.backbone.module.state_dict()[key]
        alpha = ((w - start[key]).norm() / (tuned[key] - start[key]).norm()).item()
        return -abs(alpha - 0.25)

    alpha, scores = sweep_blend(model, start, score)
    assert alpha == 0.25 and len(scores) == 5
    torch.testing.assert_close(
        model.backbone.module.state_dict()[key], torch.lerp(start[key], tuned[key], 0.25)
    )
