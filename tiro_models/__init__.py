"""The one scenario model package: scenario, uses and asset-library loading, the compiled model, and pure functions
on it."""

from .compile import compile_model, load_model

__all__ = ["compile_model", "load_model"]
