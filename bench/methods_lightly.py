"""lightly's own implementations, as its examples write them (examples/pytorch/*.py): per-image PIL
transforms in DataLoader workers, one forward per view, lightly's heads, losses and momentum
update, a plain PyTorch loop. Used by `bench/methods.py` beside headstart's methods.

Kept equal to headstart so the comparison is of implementations: the same backbone (a headstart
`Backbone`, which normalises and expands channels itself, so transforms skip `Normalize`), batch,
AdamW, LR/momentum/temperature schedules and hyper-parameters (headstart's config defaults);
blur is off at 28 px in both (SimCLR's CIFAR recipe). The loop stops by the clock, and its
schedules run on the fraction of the time budget spent.
"""

from __future__ import annotations

import copy
import math
import os
import time

import torch
from torch import nn

from headstart.methods import method_class

SIZE = 28


class MemoryImages(torch.utils.data.Dataset):
    """uint8 `(N, 1, H, W)` images served as PIL images through `transform` (torchvision's habit)."""

    def __init__(self, images: torch.Tensor, transform) -> None:
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i, 0].numpy(), mode="L")), 0


def cosine(start: float, end: float, frac: float) -> float:
    return end + 0.5 * (start - end) * (1 + math.cos(math.pi * min(1.0, frac)))


def lr_at(cfg, base: float, frac: float) -> float:
    """headstart's schedule on the time fraction: linear warm-up from 0, then cosine to a fraction."""
    if frac < cfg.warmup_fraction:
        return base * frac / cfg.warmup_fraction
    rest = (frac - cfg.warmup_fraction) / max(1e-9, 1 - cfg.warmup_fraction)
    return cosine(base, base * cfg.final_lr_fraction, rest)


class Reference(nn.Module):
    """One method: `transform`, trainable modules, `teacher_*` EMA copies, `loss(views, frac)`."""

    def __init__(self, name: str, backbone: nn.Module) -> None:
        super().__init__()
        self.cfg = method_class(name).config_cls()
        self.backbone = backbone

    def momentum(self, frac: float) -> float:
        return cosine(self.cfg.momentum_start, self.cfg.momentum_end, frac)

    def after_step(self, frac: float) -> None:
        from lightly.models.utils import update_momentum

        teachers = [(name, m) for name, m in self.named_children() if name.startswith("teacher_")]
        for name, teacher in teachers:
            update_momentum(getattr(self, name.removeprefix("teacher_")), teacher, self.momentum(frac))


class SimCLR(Reference):
    def __init__(self, backbone: nn.Module, dim: int) -> None:
        super().__init__("simclr", backbone)
        from lightly.loss import NTXentLoss
        from lightly.models.modules.heads import SimCLRProjectionHead
        from lightly.transforms import SimCLRTransform

        self.transform = SimCLRTransform(input_size=SIZE, cj_strength=0.5, gaussian_blur=0.0, normalize=None)
        self.projection = SimCLRProjectionHead(dim, self.cfg.hidden_dim, self.cfg.out_dim)
        self.criterion = NTXentLoss(temperature=self.cfg.temperature)

    def loss(self, views, frac):
        z0, z1 = (self.projection(self.backbone(x)) for x in views)
        return self.criterion(z0, z1)


class BYOL(Reference):
    def __init__(self, backbone: nn.Module, dim: int) -> None:
        super().__init__("byol", backbone)
        from lightly.loss import NegativeCosineSimilarity
        from lightly.models.modules.heads import BYOLPredictionHead, BYOLProjectionHead
        from lightly.transforms import BYOLTransform, BYOLView1Transform, BYOLView2Transform

        self.transform = BYOLTransform(BYOLView1Transform(input_size=SIZE, gaussian_blur=0.0, normalize=None),
                                       BYOLView2Transform(input_size=SIZE, gaussian_blur=0.0, normalize=None))
        self.projection = BYOLProjectionHead(dim, self.cfg.hidden_dim, self.cfg.out_dim)
        self.prediction = BYOLPredictionHead(self.cfg.out_dim, self.cfg.hidden_dim, self.cfg.out_dim)
        self.teacher_backbone = copy.deepcopy(backbone).requires_grad_(False)
        self.teacher_projection = copy.deepcopy(self.projection).requires_grad_(False)
        self.criterion = NegativeCosineSimilarity()

    def loss(self, views, frac):
        p0, p1 = (self.prediction(self.projection(self.backbone(x))) for x in views)
        with torch.no_grad():
            z0, z1 = (self.teacher_projection(self.teacher_backbone(x)) for x in views)
        return 0.5 * (self.criterion(p0, z1) + self.criterion(p1, z0))


class MoCo(Reference):
    def __init__(self, backbone: nn.Module, dim: int) -> None:
        super().__init__("moco", backbone)
        from lightly.loss import NTXentLoss
        from lightly.models.modules.heads import MoCoProjectionHead
        from lightly.transforms import MoCoV2Transform

        self.transform = MoCoV2Transform(input_size=SIZE, gaussian_blur=0.0, normalize=None)
        self.projection = MoCoProjectionHead(dim, self.cfg.hidden_dim, self.cfg.out_dim,
                                             batch_norm=self.cfg.head_batch_norm)
        self.teacher_backbone = copy.deepcopy(backbone).requires_grad_(False)
        self.teacher_projection = copy.deepcopy(self.projection).requires_grad_(False)
        self.criterion = NTXentLoss(temperature=self.cfg.temperature,
                                    memory_bank_size=(self.cfg.queue_size, self.cfg.out_dim))

    def loss(self, views, frac):
        q = self.projection(self.backbone(views[0]))
        with torch.no_grad():
            k = self.teacher_projection(self.teacher_backbone(views[1]))
        return self.criterion(q, k)


class DINO(Reference):
    def __init__(self, backbone: nn.Module, dim: int) -> None:
        super().__init__("dino", backbone)
        from lightly.loss import DINOLoss
        from lightly.models.modules.heads import DINOProjectionHead
        from lightly.transforms import DINOTransform

        c = self.cfg
        self.transform = DINOTransform(global_crop_size=SIZE, global_crop_scale=(0.32, 1.0),
                                       local_crop_size=round(SIZE * 3 / 7), local_crop_scale=(0.05, 0.32),
                                       n_local_views=c.n_local, gaussian_blur=(0.0, 0.0, 0.0), normalize=None)
        dims = (dim, c.hidden_dim, c.bottleneck_dim, c.out_dim)
        head = {"norm_last_layer": c.norm_last_layer, "batch_norm": c.head_batch_norm}
        self.head = DINOProjectionHead(*dims, **head)
        self.teacher_backbone = copy.deepcopy(backbone).requires_grad_(False)
        # lightly's example deep-copies the head, which weight_norm forbids in torch >= 2.1
        self.teacher_head = DINOProjectionHead(*dims, **head).requires_grad_(False)
        self.teacher_head.load_state_dict(self.head.state_dict())
        self.criterion = DINOLoss(output_dim=c.out_dim, student_temp=c.student_temp,
                                  center_momentum=c.center_momentum)

    def loss(self, views, frac):
        c = self.cfg
        with torch.no_grad():
            teacher = [self.teacher_head(self.teacher_backbone(x)) for x in views[:2]]
        student = [self.head(self.backbone(x)) for x in views]
        warm = min(1.0, frac / c.teacher_temp_warmup_fraction)
        temp = c.teacher_temp_start + warm * (c.teacher_temp_end - c.teacher_temp_start)
        return self.criterion(teacher, student, teacher_temp=temp)


class VICReg(Reference):
    def __init__(self, backbone: nn.Module, dim: int) -> None:
        super().__init__("vicreg", backbone)
        from lightly.loss import VICRegLoss
        from lightly.models.modules.heads import VICRegProjectionHead
        from lightly.transforms import VICRegTransform

        self.transform = VICRegTransform(input_size=SIZE, gaussian_blur=0.0, normalize=None)
        self.projection = VICRegProjectionHead(dim, self.cfg.hidden_dim, self.cfg.out_dim)
        self.criterion = VICRegLoss()

    def loss(self, views, frac):
        z0, z1 = (self.projection(self.backbone(x)) for x in views)
        return self.criterion(z0, z1)


class Barlow(Reference):
    def __init__(self, backbone: nn.Module, dim: int) -> None:
        super().__init__("barlow", backbone)
        from lightly.loss import BarlowTwinsLoss
        from lightly.models.modules.heads import BarlowTwinsProjectionHead
        from lightly.transforms import BYOLTransform, BYOLView1Transform, BYOLView2Transform

        self.transform = BYOLTransform(BYOLView1Transform(input_size=SIZE, gaussian_blur=0.0, normalize=None),
                                       BYOLView2Transform(input_size=SIZE, gaussian_blur=0.0, normalize=None))
        self.projection = BarlowTwinsProjectionHead(dim, self.cfg.hidden_dim, self.cfg.out_dim)
        self.criterion = BarlowTwinsLoss(lambda_param=self.cfg.lambda_param)

    def loss(self, views, frac):
        z0, z1 = (self.projection(self.backbone(x)) for x in views)
        return self.cfg.scale_loss * self.criterion(z0, z1)


REFERENCES = {"simclr": SimCLR, "byol": BYOL, "moco": MoCo, "dino": DINO, "vicreg": VICReg, "barlow": Barlow}


def train(method: str, model: str, *, seconds: float, batch_size: int, out) -> dict:
    """Train lightly's `method` on Fashion-MNIST train for `seconds`; save the backbone to `out`."""
    from headstart.data.idx import open_idx
    from headstart.export.weights import save_backbone
    from headstart.models.factory import create_backbone

    t0 = time.perf_counter()  # train_s: the whole call, start-up included (as headstart's pretrain call)
    torch.manual_seed(0)
    backbone = create_backbone(model, image_size=SIZE)
    ref = REFERENCES[method](backbone, backbone.feature_dim)
    data = MemoryImages(open_idx("fashion-mnist", "train").images, ref.transform)
    workers = max(1, min(8, (os.cpu_count() or 2) - 1))
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=True,
                                         num_workers=workers, generator=torch.Generator().manual_seed(0))
    base_lr = ref.cfg.lr * batch_size / 256
    params = [p for n, p in ref.named_parameters() if not n.startswith("teacher_") and p.requires_grad]
    if ref.cfg.optimizer == "lars":  # lightly's LARS, as its VICReg example (all parameters, no exclusions)
        from lightly.utils.lars import LARS

        opt = LARS(params, lr=base_lr, momentum=0.9, weight_decay=ref.cfg.weight_decay)
    else:
        opt = torch.optim.AdamW(params, lr=base_lr, weight_decay=ref.cfg.weight_decay)
    times, start, frac = [], None, 0.0
    while frac < 1:
        for views, _ in loader:
            start = start or time.perf_counter()  # the clock starts with the first batch, as headstart's
            frac = (time.perf_counter() - start) / seconds  # step estimate leaves out start-up
            if frac >= 1:
                break
            for group in opt.param_groups:
                group["lr"] = lr_at(ref.cfg, base_lr, frac)
            loss = ref.loss(views, frac)
            opt.zero_grad()
            loss.backward()
            opt.step()
            ref.after_step(frac)
            times.append(time.perf_counter())
    path = out / "exported" / "backbone.safetensors"
    save_backbone(backbone, path, model)
    return {"steps": len(times), "train_s": time.perf_counter() - t0, "step_times": times, "weights": str(path)}
