"""Where a case's lesions lie in a frame: per-pixel lesion labels (opt-in export).

``python -m inference.phantom generate --lesion-masks`` writes, beside every standard-view
image ``views/<code>_<VIEW>.png``, a label image ``views/<code>_<VIEW>_lesion.png`` of the
same size: each pixel holds the index in :data:`core.labels.IMAGE_LABELS` of the
lesion it shows (0: none; ``normal`` is index 0, so it can never be a lesion). The case's
truth JSON names it (``views.<VIEW>.lesion_mask``) with the pixel count of each lesion
label. The tissues of each label:

* ``ivh``: germinal-matrix haemorrhage, intraventricular blood, periventricular haemorrhagic
  infarction;
* ``ependymal_cyst``: the cysts;
* ``pvl``: the cysts and the periventricular flare around them;
* ``ventricular_dilation`` / ``hydrocephalus``: the ventricles' lumen (lateral ventricles with
  their choroid plexus and temporal horns, third ventricle), in a case with that condition.

Without the flag nothing changes: the option only records the tissue labels the renderer
samples anyway, and draws no random number.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from core.labels import IMAGE_LABELS, Condition
from inference.phantom.anatomy import Tissue
from inference.phantom.geometry import SectorGeometry

#: Tissues that belong to a lesion of each label (ventricles: only in a case with dilation).
LESION_TISSUES: dict[Condition, tuple[Tissue, ...]] = {
    Condition.IVH: (Tissue.GMH, Tissue.BLOOD, Tissue.PVHI),
    Condition.EPENDYMAL_CYST: (Tissue.EPENDYMAL_CYST,),
    Condition.PVL: (Tissue.PVL_CYST, Tissue.PVL_FLARE),
    Condition.VENTRICULAR_DILATION: (
        Tissue.LATERAL_VENTRICLE,
        Tissue.CHOROID,
        Tissue.TEMPORAL_HORN,
        Tissue.THIRD_VENTRICLE,
    ),
    Condition.HYDROCEPHALUS: (
        Tissue.LATERAL_VENTRICLE,
        Tissue.CHOROID,
        Tissue.TEMPORAL_HORN,
        Tissue.THIRD_VENTRICLE,
    ),
}
#: Tissue labels worth keeping per frame (everything else is stored as 0).
_KEEP = np.zeros(256, dtype=bool)
_KEEP[[int(t) for tissues in LESION_TISSUES.values() for t in tissues]] = True


def lesion_tissue_labels(labels: np.ndarray) -> np.ndarray:
    """A frame's polar tissue labels with every tissue that is never a lesion set to 0."""
    return np.where(_KEEP[labels], labels, 0).astype(np.uint8)


def lesion_lut(conditions: Iterable[Condition]) -> np.ndarray:
    """Tissue label → IMAGE_LABELS index of the lesion it is in a case with ``conditions``.

    Blood counts as IVH even inside a dilated ventricle (the later entry wins)."""
    found = set(conditions)
    lut = np.zeros(256, dtype=np.uint8)
    order = (
        Condition.VENTRICULAR_DILATION,
        Condition.HYDROCEPHALUS,
        Condition.PVL,
        Condition.EPENDYMAL_CYST,
        Condition.IVH,
    )
    for condition in order:
        if condition in found:
            lut[[int(t) for t in LESION_TISSUES[condition]]] = IMAGE_LABELS.index(condition)
    return lut


def lesion_label_image(
    polar_tissues: np.ndarray, geometry: SectorGeometry, conditions: Iterable[Condition]
) -> np.ndarray:
    """Frame-sized uint8 image of IMAGE_LABELS indices (0: no lesion) from polar tissue labels."""
    polar = lesion_lut(conditions)[polar_tissues]
    mx, my = geometry.remap_maps
    return cv2.remap(
        polar,
        mx,
        my,
        interpolation=cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def lesion_pixel_counts(label_image: np.ndarray) -> dict[str, int]:
    """Pixels of each lesion label present in a label image (labels with none are left out)."""
    counts = np.bincount(label_image.reshape(-1), minlength=len(IMAGE_LABELS))
    return {str(IMAGE_LABELS[i]): int(counts[i]) for i in range(1, len(IMAGE_LABELS)) if counts[i]}
