"""A parametric neonatal brain as a voxel volume of tissue labels and echogenicity.

Coordinates are millimetres with the origin at the skin of the anterior fontanelle, where
the probe sits: ``x`` towards the patient's left, ``y`` anterior, ``z`` depth (inferior).
Structures are placed in coordinates normalised by the brain's semi-axes, so the whole
brain scales with gestational age; individual variation perturbs the axes and the
ventricles. The volume is built once per case and sliced for every frame.

Modules: :mod:`.tissue` (labels and echogenicity), :mod:`.params` (a baby's brain size),
:mod:`.landmarks` (ventricle paths, standard-plane tilts), :mod:`.painter` and
:mod:`.fields` (painting labels, random fields), :mod:`.structures` (the normal anatomy),
:mod:`.lesion_painting` (a case's lesions), :mod:`.build` (assembly and echogenicity),
:mod:`.volume` (the result and sampling it).
"""

from inference.phantom.anatomy.build import build_brain
from inference.phantom.anatomy.landmarks import VentricleSample, ViewAngles, view_angles
from inference.phantom.anatomy.params import BrainParams
from inference.phantom.anatomy.tissue import (
    ECHO_LUT,
    ECHOGENICITY,
    FLUID,
    VENTRICLE_LUMEN,
    Tissue,
)
from inference.phantom.anatomy.volume import BrainVolume

__all__ = [
    "ECHOGENICITY",
    "ECHO_LUT",
    "FLUID",
    "VENTRICLE_LUMEN",
    "BrainParams",
    "BrainVolume",
    "Tissue",
    "VentricleSample",
    "ViewAngles",
    "build_brain",
    "view_angles",
]
