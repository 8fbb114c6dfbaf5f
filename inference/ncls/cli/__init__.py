"""Sub-commands of ``python -m inference.ncls``, one module per stage (registered by
``inference/ncls/__main__.py``).

Why a package of its own: the command lines use the whole library — the backends that pick a
model directory's networks, the pipeline, the published networks — so they sit above
``detection/``, ``diagnosis/`` and ``published/`` in the import order instead of inside them.
"""
