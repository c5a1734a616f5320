"""The team's policy pack: rules every `fleetctl preview` checks (see docs/policy.md).

One module per area. A rule is a function decorated with
`fleetctl.core.guardrails.rule`; it gets a `StackContext` per stack and yields
`Finding`s naming the resource and the fix. Settings (allowed instance
families, required tags, ...) are constants at the top of each module: edit
them here. Rules may import `fleetctl.core` and `fleetctl.spec` only.
"""
