"""MAE: reconstruct the pixels of masked patches (He et al. 2022, arXiv:2111.06377).

A random 75% of each image's patches is dropped; the ViT encoder runs on the visible 25% only,
a light decoder fills the hidden positions with a mask token and predicts their pixels, and the
loss is the mean squared error on the hidden patches, each target patch normalised by its own
mean and variance (`norm_pix_loss`, the paper's better-representation variant). For ViT
backbones only; the exported backbone is the plain ViT and runs on whole images.
"""

from __future__ import annotations

import logging

import torch

from headstart.data.views.ops import random_mask, to_float
from headstart.methods.base import Method, MethodConfig, Plan
from headstart.methods.mae.decoder import MAEDecoder
from headstart.methods.mae.figure import image_grid, save_png
from headstart.methods.mae.vit import check_vit, encode_visible, grid_size, patchify, unpatchify
from headstart.models.backbone import Backbone

log = logging.getLogger("headstart")
HIDDEN_RGB = (0.25, 0.35, 0.6)  # hidden patches in the figure: a blue no grey-scale image contains


class MAEConfig(MethodConfig):
    lr: float = 1.5e-3           # AdamW per 256 images (paper: 1.5e-4 for 800+ epochs; short runs need more)
    weight_decay: float = 0.05   # paper
    warmup_fraction: float = 0.05
    mask_ratio: float = 0.75     # paper: 75% of the patches hidden
    decoder_dim: int = 128       # paper: 512; small images and models need far less
    decoder_depth: int = 2       # paper: 8
    decoder_heads: int = 4
    norm_pix_loss: bool = True   # per-patch normalised pixel targets (paper Table 1d)
    figure_images: int = 8       # images in reconstructions.png at the end of training (0: none)


class MAE(Method):
    config_cls = MAEConfig
    default_views = "mae"

    def __init__(self, backbone: Backbone, cfg: MAEConfig, plan: Plan) -> None:
        super().__init__(backbone, cfg, plan)
        vit = check_vit(backbone, "mae")
        self.patch = int(vit.patch_embed.patch_size[0])
        pixels = self.patch * self.patch * backbone.meta.in_chans
        self.decoder = MAEDecoder(vit.embed_dim, pixels, dim=cfg.decoder_dim, depth=cfg.decoder_depth,
                                  heads=cfg.decoder_heads)

    @property
    def vit(self) -> torch.nn.Module:
        """The plain timm ViT (a property, so it is not registered twice as a child module)."""
        return getattr(self.backbone.module, "_orig_mod", self.backbone.module)

    def reconstruct(self, x: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
        """x (B, C, S, S) in [0, 1] -> (prediction (B, N, p*p*C), target (B, N, p*p*C), mask (B, N) bool,
        grid); target is the backbone-normalised input, patchified."""
        inp = self.backbone.prepare(x)  # (B, C_model, S, S), the model's mean/std
        grid = grid_size(self.vit, inp)
        m = random_mask(grid[0] * grid[1], self.cfg.mask_ratio, batch=len(x), gen=gen, device=x.device)
        latent = encode_visible(self.vit, inp, m.keep)  # (B, prefix + K, D): visible tokens only
        pred = self.decoder(latent, m.restore, self.vit.num_prefix_tokens, grid)
        return pred.float(), patchify(inp.float(), self.patch), m.mask, grid

    def loss(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        pred, target, mask, _ = self.reconstruct(views[0], self.generator())
        return masked_patch_loss(pred, target, mask, self.cfg.norm_pix_loss), {}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        opt = super().configure_optimizers()
        if self.cfg.optimizer == "adamw":
            for group in opt.param_groups:
                group["betas"] = (0.9, 0.95)  # MAE's AdamW betas
        return opt

    def on_train_end(self) -> None:
        if self.cfg.figure_images and self.trainer.is_global_zero:
            data = getattr(self.trainer.train_dataloader, "dataset", None)
            if data is None or not hasattr(data, "__getitems__"):
                log.warning("reconstructions.png skipped: the training data cannot be indexed")
                return
            images, _ = data.__getitems__(list(range(min(self.cfg.figure_images, len(data)))))
            from pathlib import Path

            self.save_reconstructions(images, Path(self.trainer.default_root_dir) / "reconstructions.png")

    @torch.no_grad()
    def save_reconstructions(self, images: torch.Tensor, path) -> None:
        """Write the original / masked / reconstructed grid of uint8 `images` (B, C, H, W) to `path`."""
        was_training = self.training
        self.eval()
        try:
            x = to_float(images.to(self.device), self.plan.image_size)
            gen = torch.Generator(device=self.device).manual_seed(0)  # the same masks every time
            rows = self.figure_rows(x, gen)
        finally:
            self.train(was_training)
        save_png(image_grid(rows), path)

    def figure_rows(self, x: torch.Tensor, gen: torch.Generator) -> list[torch.Tensor]:
        """[original, masked input, reconstruction with the visible patches pasted back],
        each (B, C, S, S) in [0, 1]."""
        pred, target, mask, grid = self.reconstruct(x, gen)
        if self.cfg.norm_pix_loss:  # undo the per-patch normalisation with the true patch statistics
            mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
            pred = pred * (var + 1e-6).sqrt() + mean
        m = mask[..., None]
        recon = self.unprepare(unpatchify(torch.where(m, pred, target), self.patch, grid), x.shape[1])
        hidden = unpatchify(m.expand_as(target).float(), self.patch, grid)[:, :1] > 0.5  # (B, 1, S, S)
        colour = torch.tensor(HIDDEN_RGB, device=x.device).view(1, 3, 1, 1)
        masked = torch.where(hidden, colour, x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x)
        return [x, masked, recon]

    def unprepare(self, inp: torch.Tensor, channels: int) -> torch.Tensor:
        """Inverse of `Backbone.prepare`: normalised model input -> [0, 1] images with `channels`."""
        x = (inp * self.backbone.std + self.backbone.mean).clamp(0, 1)
        return x.mean(1, keepdim=True) if channels == 1 and x.shape[1] != 1 else x


def masked_patch_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                      norm_pix: bool = True) -> torch.Tensor:
    """Mean squared error over the hidden patches only (MAE eq.: loss on removed patches).

    pred, target (B, N, P) pixels per patch; mask (B, N) True where hidden."""
    if norm_pix:
        mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
        target = (target - mean) / (var + 1e-6).sqrt()
    per_patch = (pred - target).pow(2).mean(-1)  # (B, N)
    m = mask.float()
    return (per_patch * m).sum() / m.sum().clamp(min=1)
