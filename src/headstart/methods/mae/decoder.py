"""MAE's light decoder (He et al. 2022, arXiv:2111.06377, §3 "MAE decoder").

Visible tokens are projected to the decoder width, a shared learned mask token fills every hidden
position, fixed 2-D sin-cos positions (computed for the input's grid, so any image size works)
are added, a few transformer blocks run over the full set, and a linear layer predicts each
patch's pixels. The paper's decoder is 8 blocks x 512-d; 2 x 128-d suits 28-64 px images.
"""

from __future__ import annotations

import torch
from torch import nn

from headstart.models.attention import explicit_attention_on_cpu


class MAEDecoder(nn.Module):
    def __init__(self, embed_dim: int, patch_pixels: int, *, dim: int = 128, depth: int = 2, heads: int = 4,
                 mlp_ratio: float = 4.0) -> None:
        super().__init__()
        from timm.models.vision_transformer import Block

        self.embed = nn.Linear(embed_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp_ratio, qkv_bias=True) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.pred = nn.Linear(dim, patch_pixels)
        nn.init.normal_(self.mask_token, std=0.02)
        self.apply(_init)
        explicit_attention_on_cpu(self)

    def forward(self, latent: torch.Tensor, restore: torch.Tensor, prefix: int,
                grid: tuple[int, int]) -> torch.Tensor:
        """latent (B, prefix + K, D) from the encoder, restore (B, N) the argsort that puts
        [visible, hidden] back in patch order -> pixels (B, N, patch_pixels) for every patch."""
        x = self.embed(latent)  # (B, P + K, d)
        head, visible = x[:, :prefix], x[:, prefix:]
        b, n = restore.shape
        fill = self.mask_token.to(x.dtype).expand(b, n - visible.shape[1], -1)
        patches = torch.cat([visible, fill], dim=1)  # (B, N, d): visible first, then hidden
        patches = patches.gather(1, restore[..., None].expand(-1, -1, patches.shape[-1]))
        patches = patches + self.positions(grid, x.device, x.dtype)
        x = self.norm(self.blocks(torch.cat([head, patches], dim=1)))
        return self.pred(x[:, prefix:])  # (B, N, p*p*C)

    def positions(self, grid: tuple[int, int], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """Fixed 2-D sin-cos positions (1, h*w, d), row-major like the encoder's patches."""
        from timm.layers.pos_embed_sincos import build_sincos2d_pos_embed

        dim = self.mask_token.shape[-1]
        return build_sincos2d_pos_embed(list(grid), dim, device=device).to(dtype)[None]


def _init(m: nn.Module) -> None:
    """MAE's initialisation: xavier-uniform linears with zero bias, unit layer norms."""
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
