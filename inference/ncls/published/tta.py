"""The authors' test-time augmentation of the diagnosis views, seeded.

Why our own sampler: the authors draw their augmentation parameters from the process-wide
random state (torchvision's random transforms), so a case's result depends on what ran before
it. Here every parameter comes from one ``torch.Generator`` seeded per call, so the same views
with the same seed give bit-identical inputs, whatever else the process does. The
distributions and their order are the authors' (module ``module_diagnosis.TTATransform`` of
their repository), applied to each view independently on the [0, 1] tensor before
normalisation:

1. horizontal flip, p = 0.5;
2. grey scale (three equal channels), p = 0.2;
3. with p = 0.5, brightness and contrast factors each uniform in [0.4, 1.6], applied in a
   random order (as ``ColorJitter`` permutes its operations);
4. rotation by an angle uniform in [-15°, 15°] (nearest neighbour, black fill);
5. Gaussian blur with a 5×9 kernel and σ uniform in [0.1, 5], p = 0.2;
6. normalisation with the network's mean and std.

``passes = 1`` means no augmentation: the plain normalised input, once.
"""

from __future__ import annotations

import torch
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

from .diagnosis import PIXEL_MEAN, PIXEL_STD

#: The authors' number of augmented passes, and the seed of their inference script.
DEFAULT_PASSES = 10
DEFAULT_SEED = 3407

FLIP_P = 0.5
GREY_P = 0.2
JITTER_P = 0.5
JITTER_RANGE = (0.4, 1.6)  # brightness and contrast 0.6 around 1
ROTATION_DEG = 15.0
BLUR_P = 0.2
BLUR_KERNEL = [5, 9]
BLUR_SIGMA = (0.1, 5.0)


def _uniform(low: float, high: float, g: torch.Generator) -> float:
    return float(torch.empty(1).uniform_(low, high, generator=g))


def _chance(p: float, g: torch.Generator) -> bool:
    return float(torch.rand(1, generator=g)) < p


def augment_view(pixels: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """One random augmentation of one view (3×H×W in [0, 1]), not normalised."""
    x = pixels
    if _chance(FLIP_P, g):
        x = TF.hflip(x)
    if _chance(GREY_P, g):
        x = TF.rgb_to_grayscale(x, num_output_channels=3)
    if _chance(JITTER_P, g):
        order = torch.randperm(4, generator=g).tolist()  # brightness 0, contrast 1, (2, 3 unused)
        brightness = _uniform(*JITTER_RANGE, g)
        contrast = _uniform(*JITTER_RANGE, g)
        for op in order:
            if op == 0:
                x = TF.adjust_brightness(x, brightness)
            elif op == 1:
                x = TF.adjust_contrast(x, contrast)
    angle = _uniform(-ROTATION_DEG, ROTATION_DEG, g)
    x = TF.rotate(x, angle, interpolation=InterpolationMode.NEAREST, fill=[0.0] * x.shape[0])
    if _chance(BLUR_P, g):
        sigma = _uniform(*BLUR_SIGMA, g)
        x = TF.gaussian_blur(x, kernel_size=BLUR_KERNEL, sigma=[sigma, sigma])
    return x


def tta_inputs(
    pixels: torch.Tensor, passes: int = DEFAULT_PASSES, seed: int = DEFAULT_SEED
) -> torch.Tensor:
    """``passes`` × N × 3 × H × W normalised inputs for N views (N × 3 × H × W in [0, 1]).

    Pass ``p`` augments every view with its own parameters; with ``passes = 1`` the views are
    only normalised. The same ``pixels`` and ``seed`` always give the same tensor.
    """
    if passes < 1:
        raise ValueError(f"the number of test-time passes must be at least 1, got {passes}")
    if pixels.ndim != 4 or pixels.shape[1] != 3:
        raise ValueError(f"expected views N×3×H×W, got {list(pixels.shape)}")
    if passes == 1:
        batches = pixels.unsqueeze(0)
    else:
        g = torch.Generator().manual_seed(int(seed))
        batches = torch.stack(
            [torch.stack([augment_view(v, g) for v in pixels]) for _ in range(passes)]
        )
    mean = torch.tensor(PIXEL_MEAN, dtype=pixels.dtype).view(1, 1, 3, 1, 1)
    std = torch.tensor(PIXEL_STD, dtype=pixels.dtype).view(1, 1, 3, 1, 1)
    return (batches - mean) / std
