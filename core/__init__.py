"""What several apps share, at the bottom of the layering: pure Python, no Django.

The clinical vocabulary and the severe rule (:mod:`core.labels`), video and DICOM cine
decoding (:mod:`core.video`), the ultrasound sector crop (:mod:`core.roi`) and file
hashing (:mod:`core.files`). ``core`` imports nothing of the apps, so ``trials`` (the
lowest app) and the pure NCLS library ``inference.ncls`` can both use it.
"""
