"""Batched, seeded augmentations on uint8 image tensors, and one view recipe per method."""

from headstart.data.views.ops import (
    Mask,
    color_jitter,
    crop_theta,
    gaussian_blur,
    random_grayscale,
    random_mask,
    random_resized_crop,
    solarize,
    to_float,
)
from headstart.data.views.recipes import RECIPES, ViewRecipe, ViewSpec, recipe

__all__ = [
    "RECIPES", "Mask", "ViewRecipe", "ViewSpec", "color_jitter", "crop_theta", "gaussian_blur",
    "random_grayscale", "random_mask", "random_resized_crop", "recipe", "solarize", "to_float",
]
