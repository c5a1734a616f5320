"""fleetctl: declare, preview and safely roll out a global video delivery fleet."""

__version__ = "0.1.0"
