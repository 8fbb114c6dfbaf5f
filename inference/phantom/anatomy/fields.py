"""Smooth random fields for cortical folds and tissue texture."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def smooth_noise(
    rng: np.random.Generator, shape: tuple[int, ...], coarse: int, sigma: float
) -> np.ndarray:
    """Zero-mean, unit-variance smooth random field (coarse grid, blurred, upsampled)."""
    small_shape = tuple(max(4, s // coarse + 2) for s in shape)
    small = ndimage.gaussian_filter(rng.standard_normal(small_shape).astype(np.float32), sigma)
    small /= small.std() + 1e-6
    return upsample_linear(small, shape)


def upsample_linear(small: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Linear interpolation of a small array up to ``shape``, one axis at a time."""
    out = small
    for axis, n in enumerate(shape):
        m = out.shape[axis]
        pos = np.linspace(0.0, m - 1.0, n, dtype=np.float32)
        i0 = np.minimum(pos.astype(np.int64), m - 2)
        w = (pos - i0).astype(np.float32)
        view = [1] * out.ndim
        view[axis] = n
        w = w.reshape(view)
        out = np.take(out, i0, axis=axis) * (1.0 - w) + np.take(out, i0 + 1, axis=axis) * w
    return out.astype(np.float32, copy=False)
