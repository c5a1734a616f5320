"""The lab's outside-world work: system binaries, sshd (keys, config text),
sockets, supervisord programs and the router's traffic state on disk.

`fleetctl.services.lab` decides what the lab is (hosts, roles, inventory);
these modules do what it takes on this machine.
"""
