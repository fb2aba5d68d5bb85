"""Backbones: one `Backbone` interface (`backbone`) over model families, each an adapter behind
the `FAMILIES` registry (`family`: `headstart_`, `torchvision_`, `timm_`, `hf_`, `ultralytics_` (an
optional extra); the text models are in `text`); `factory` builds them by name
(`create_backbone("timm/resnet18")`) and loads a run's (`load_run_backbone`).

This package's `__init__` imports nothing heavy: configs check model names through `family`
without importing torch.
"""
