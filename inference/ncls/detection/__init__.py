"""NCLS detection."""
