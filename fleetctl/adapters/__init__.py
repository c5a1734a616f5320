"""The outside world, one module per system. Heavy imports stay inside functions."""
