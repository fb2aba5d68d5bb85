"""Semi-supervised fine-tuning: the unlabeled rest of the data joins the labeled loss through a
consistency term (FixMatch, with FlexMatch or FreeMatch thresholds and optional distribution
alignment). One ingredient per file:

- `fixmatch`: pseudo-labels from the weak view, the masked loss on the strong view, and the
  `Consistency` module that bundles a threshold and an alignment into one unlabeled term;
- `thresholds`: fixed (FixMatch), class-wise curriculum (FlexMatch), self-adaptive (FreeMatch);
- `alignment`: distribution alignment (ReMixMatch);
- `strong`: the strong view, a batched RandAugment + Cutout.
"""

from headstart.adapt.semi.alignment import DistributionAlignment
from headstart.adapt.semi.fixmatch import Consistency, consistency_loss
from headstart.adapt.semi.strong import rand_augment
from headstart.adapt.semi.thresholds import (
                                             THRESHOLDS,
                                             FixedThreshold,
                                             FlexThreshold,
                                             FreeThreshold,
                                             Threshold,
)

__all__ = [
    "THRESHOLDS", "Consistency", "DistributionAlignment", "FixedThreshold", "FlexThreshold", "FreeThreshold",
    "Threshold", "consistency_loss", "rand_augment",
]
