"""`python -m fleetctl`: the same CLI as the `fleetctl` command (inventory scripts use it)."""

from fleetctl.cli.main import run

run()
