"""NCLS diagnosis."""
