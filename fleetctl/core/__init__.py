"""Pure logic, no I/O: planners, diffs, gate statistics."""
