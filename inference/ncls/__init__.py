"""NCLS: neonatal cranial ultrasound lesion screening, as a pure PyTorch library (no Django)."""
