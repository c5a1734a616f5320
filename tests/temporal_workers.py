"""Regional and coordinator workers in a background thread, for tests and benchmarks
(the CLI's `fleetctl worker` runs the same `service.serve`)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from fleetctl.adapters import temporal
from fleetctl.core.policy import Policy
from fleetctl.services.rollout_temporal import service
from fleetctl.services.rollout_temporal.model import workflow_id


class WorkerThread:
    def __init__(
        self,
        settings: temporal.Settings,
        env: str,
        regions: list[str],
        *,
        state_url: str,
        root: Path,
        coordinator: bool = True,
        executor: Any = None,
        prober: Any = None,
        **more: Any,  # service.serve's secrets=, notify=
    ) -> None:
        self.kw = dict(
            regions=regions,
            coordinator=coordinator,
            state_url=state_url,
            root=root,
            executor=executor,
            prober=prober,
            **more,
        )
        self.settings, self.env = settings, env
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.stop = asyncio.Event()
            await service.serve(
                self.settings, self.env, ready=self.ready.set, stop=self.stop, **self.kw
            )

        try:
            asyncio.run(main())
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    def __enter__(self) -> WorkerThread:
        self.thread.start()
        assert self.ready.wait(60), "workers did not start"
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.loop is not None and self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(60)


def terminate(settings: temporal.Settings, workflow_id: str) -> None:
    """End a workflow a failed test left running (bounded; ignores a closed one)."""

    async def go() -> None:
        client = await temporal.connect(settings)
        with contextlib.suppress(Exception):
            await client.get_workflow_handle(workflow_id).terminate("test teardown")

    asyncio.run(go())


@contextlib.contextmanager
def fleet_workers(
    settings: temporal.Settings,
    fleet: Any,
    state_url: str,
    regions: Sequence[str] = ("a", "b"),
    *,
    env: str = "lab",
    **more: Any,  # service.serve's secrets=, notify=
) -> Iterator[WorkerThread]:
    """The coordinator and `regions`' workers for a test fleet (tests/integration/
    rollout_fleet.FakeFleet: its workspace and its executor) running inside the block.
    After it, the env's workflow is terminated, so a failed test leaves none running
    for the next test on the same server."""
    workers = WorkerThread(
        settings,
        env,
        list(regions),
        state_url=state_url,
        root=fleet.root,
        executor=fleet.executor,
        **more,
    )
    try:
        with workers:
            yield workers
    finally:
        terminate(settings, workflow_id(env))


def start_rollout(
    fleet: Any, store: Any, settings: temporal.Settings, policy: dict[str, Any] | Policy, **kw: Any
) -> Any:
    """`fleetctl rollout start edge.yml --env lab --engine temporal` of a test fleet,
    in this process; its Outcome."""
    pol = policy if isinstance(policy, Policy) else Policy.model_validate(policy)
    return service.start(store, fleet.root, "lab", "edge.yml", pol, settings=settings, **kw)
