"""Synthetic neonatal cranial ultrasound (CUS) phantom with exact ground truth.

Renders anterior-fontanelle sweeps (coronal and sagittal) of a parametric neonatal brain
(gestational age 25–41 weeks) with lesions (IVH Papile I–IV, cystic PVL, hydrocephalus,
mild ventricular dilation, ependymal cysts), a convolution speckle model scan-converted
into a curvilinear sector, machine styles and burned-in overlays outside the sector.
Pure numpy/scipy/OpenCV, no Django; deterministic for a seed.

Python API::

    from inference.phantom import render_case
    case = render_case(7, n_frames=120, case_type="ivh3")
    sweep = case.sweeps["coronal"]        # frames: uint8 (T, H, W) grey
    sweep.truth[0].boxes                  # rotated boxes of the ten detector classes

Command line: ``python -m inference.phantom generate ...`` and ``... sheet VIDEO --out PNG``
(see README.md in this folder).

Box angle convention: ``(cx, cy, w, h, angle_deg)`` in frame pixels (x right, y down);
``w >= h`` is the long side; ``angle_deg`` in ``[-90, 90)`` is the direction of the long
side, **positive = counter-clockwise on screen**. DOTA corners are listed clockwise on
screen starting from the corner that is the top-left one when ``angle_deg = 0``.
"""

from inference.phantom.case import VIEW_ORIENTATION, CaseMeta, PhantomCase, render_case
from inference.phantom.geometry import RotatedBox, SectorGeometry, box_corners
from inference.phantom.lesions import CASE_TYPES, CaseLabels
from inference.phantom.styles import STYLES, MachineStyle
from inference.phantom.sweep import Box, FrameTruth, Sweep
from inference.phantom.writer import ANGLE_CONVENTION, GenerateOptions, generate

__all__ = [
    "ANGLE_CONVENTION",
    "CASE_TYPES",
    "STYLES",
    "VIEW_ORIENTATION",
    "Box",
    "CaseLabels",
    "CaseMeta",
    "FrameTruth",
    "GenerateOptions",
    "MachineStyle",
    "PhantomCase",
    "RotatedBox",
    "SectorGeometry",
    "Sweep",
    "box_corners",
    "generate",
    "render_case",
]
