"""Operator tools run from a laptop or CI, never in Lambda: deploy preflight checks and the smoke test."""
