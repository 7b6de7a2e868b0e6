"""The one scenario model package: scenario, uses and asset-library loading, the compiled model, and pure functions on it."""
