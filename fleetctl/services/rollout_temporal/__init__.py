"""`--engine temporal`: the rollout as a Temporal coordinator workflow with one
child workflow per region, run by regional workers (`fleetctl worker`).

- `model`: the frozen dataclasses that travel through Temporal (workflow-safe).
- `workflows`: the coordinator and the region workflow (deterministic, no I/O).
- `activities`: the side effects (journal, Ansible, gates, rollback), as
  `@activity.defn` wrappers over the rollout engine's own functions.
- `service`: what the CLI calls (start, signal, query, run a worker).
"""
