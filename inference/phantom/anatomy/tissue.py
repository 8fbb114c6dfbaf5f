"""Tissue labels of the voxel volume and how bright each one echoes."""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Tissue(IntEnum):
    """Tissue labels of the voxel volume."""

    BACKGROUND = 0
    SCALP = 1
    SKULL = 2
    CSF = 3
    CORTEX = 4
    WHITE_MATTER = 5
    SULCUS = 6
    FALX = 7
    CORPUS_CALLOSUM = 8
    LATERAL_VENTRICLE = 9
    THIRD_VENTRICLE = 10
    FOURTH_VENTRICLE = 11
    CSP = 12
    CHOROID = 13
    THALAMUS = 14
    BASAL_GANGLIA = 15
    CEREBELLUM = 16
    VERMIS = 17
    BRAINSTEM = 18
    CISTERN = 19
    BLOOD = 20
    GMH = 21
    PVHI = 22
    PVL_CYST = 23
    PVL_FLARE = 24
    EPENDYMAL_CYST = 25
    TENTORIUM = 26
    SYLVIAN = 27
    TEMPORAL_HORN = 28


#: Backscatter amplitude of each tissue (relative; white matter about 0.6).
ECHOGENICITY: dict[Tissue, float] = {
    Tissue.BACKGROUND: 0.0,
    Tissue.SCALP: 3.0,
    Tissue.SKULL: 14.0,
    Tissue.CSF: 0.06,
    Tissue.CORTEX: 0.45,
    Tissue.WHITE_MATTER: 0.6,
    Tissue.SULCUS: 2.6,
    Tissue.FALX: 4.5,
    Tissue.CORPUS_CALLOSUM: 0.3,
    Tissue.LATERAL_VENTRICLE: 0.035,
    Tissue.THIRD_VENTRICLE: 0.035,
    Tissue.FOURTH_VENTRICLE: 0.035,
    Tissue.CSP: 0.04,
    Tissue.CHOROID: 8.0,
    Tissue.THALAMUS: 0.72,
    Tissue.BASAL_GANGLIA: 0.78,
    Tissue.CEREBELLUM: 0.9,
    Tissue.VERMIS: 4.0,
    Tissue.BRAINSTEM: 0.55,
    Tissue.CISTERN: 0.07,
    Tissue.BLOOD: 6.0,
    Tissue.GMH: 8.0,
    Tissue.PVHI: 4.5,
    Tissue.PVL_CYST: 0.04,
    Tissue.PVL_FLARE: 2.4,
    Tissue.EPENDYMAL_CYST: 0.04,
    Tissue.TENTORIUM: 4.0,
    Tissue.SYLVIAN: 4.0,
    Tissue.TEMPORAL_HORN: 0.035,
}

ECHO_LUT = np.zeros(256, dtype=np.float32)
for _tissue, _amp in ECHOGENICITY.items():
    ECHO_LUT[int(_tissue)] = _amp

#: Fluid-filled tissues (anechoic); their walls get a bright lining.
FLUID = (
    Tissue.CSF,
    Tissue.LATERAL_VENTRICLE,
    Tissue.THIRD_VENTRICLE,
    Tissue.FOURTH_VENTRICLE,
    Tissue.CSP,
    Tissue.CISTERN,
    Tissue.PVL_CYST,
    Tissue.EPENDYMAL_CYST,
    Tissue.TEMPORAL_HORN,
)
#: What the lateral-ventricle detector classes cover: the lumen and what fills it.
VENTRICLE_LUMEN = (Tissue.LATERAL_VENTRICLE, Tissue.CHOROID, Tissue.BLOOD)
