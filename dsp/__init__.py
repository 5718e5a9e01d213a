"""Numba DSP kernels: pure functions on numpy arrays, each with a plain-numpy reference."""
