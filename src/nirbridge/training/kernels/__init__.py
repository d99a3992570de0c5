"""Fused time-loop kernels (filled in by the kernels work)."""
