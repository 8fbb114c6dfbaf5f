"""NCLS stage 2: multi-view diagnosis of a case (pure PyTorch, no Django).

Public API (import from the submodules; this package imports nothing heavy itself):

- :class:`inference.ncls.diagnosis.predict.DiagnosisEnsemble` — the fold models alone:
  ``load(dir)`` (SHA-256 verified), ``diagnose(views) -> CaseDiagnosis``.
- :func:`inference.ncls.diagnosis.rules.decide` — the ensemble rule.
- :func:`inference.ncls.diagnosis.train.train_diagnosis` — K-fold training from a manifest.
- :func:`inference.ncls.diagnosis.metrics.case_metrics` — case-level AUC, Se, Sp.
- :mod:`inference.ncls.diagnosis.onnx` — ONNX export and onnxruntime inference.
- :mod:`inference.ncls.diagnosis.heatmaps` — Finer-CAM overlays.

The whole pipeline for one case (stage 1 + 2), :class:`inference.ncls.pipeline.NclsPipeline`,
and the evaluation of a model directory, :func:`inference.ncls.evaluation.evaluate_manifest`,
sit above this package and :mod:`inference.ncls.backends` (which picks our networks or the
published ones), as do the command lines (:mod:`inference.ncls.cli.diagnosis`):
``python -m inference.ncls train-diagnosis|evaluate-diagnosis|run|export-onnx|train-demo``.
"""
