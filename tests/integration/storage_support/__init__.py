"""Helpers for integration tests that need real storage nodes."""
