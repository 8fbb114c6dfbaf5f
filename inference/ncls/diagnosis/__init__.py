"""NCLS stage 2: multi-view diagnosis of a case (pure PyTorch, no Django).

Public API (import from the submodules; this package imports nothing heavy itself):

- :class:`inference.ncls.diagnosis.pipeline.NclsPipeline` — ``load(models_dir, device)`` once,
  then ``run_videos([coronal, sagittal], out_dir=...)`` (stage 1 + 2) or
  ``diagnose_views({"AHV": frame, ...}, out_dir=...)``; both return a ``CaseResult``
  (diagnosis, view frames, heatmaps, timings, model versions) and write ``result.json``.
- :class:`inference.ncls.diagnosis.predict.DiagnosisEnsemble` — the fold models alone:
  ``load(dir)`` (SHA-256 verified), ``diagnose(views) -> CaseDiagnosis``.
- :func:`inference.ncls.diagnosis.rules.decide` — the ensemble rule.
- :func:`inference.ncls.diagnosis.train.train_diagnosis` — K-fold training from a manifest.
- :func:`inference.ncls.diagnosis.evaluation.evaluate_manifest` — case-level AUC, Se, Sp.
- :mod:`inference.ncls.diagnosis.onnx` — ONNX export and onnxruntime inference.
- :mod:`inference.ncls.diagnosis.heatmaps` — Finer-CAM overlays.

Command line:
``python -m inference.ncls train-diagnosis|evaluate-diagnosis|run|export-onnx|train-demo``.
"""
