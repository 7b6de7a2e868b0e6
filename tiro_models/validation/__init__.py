"""Validation internals: result types, compiled value checks, the snapshot walk and the window collector."""
