"""The Ray executor: the same :class:`~affectgpt.pipeline.base.MapStep` on a pool of Ray actors,
on this machine (a local Ray instance) or on a cluster (``address``). ``pip install 'affectgpt[ray]'``.

Each actor calls ``step.setup()`` once and then maps batches of records; an actor asks for the
step's ``resources`` (``{"num_cpus": 1}`` by default, ``{"num_gpus": 1}`` for a GPU step), so GPU
steps run as a pool of GPU actors. Outputs come back to the driver, which writes them, so a run
gives the same bytes as the local executor. An actor that dies takes only its record with it:
its batch is retried one record at a time, the record that kills an actor again gets
``reason: "worker died"``, and a new actor replaces it.
"""

from __future__ import annotations

from collections import deque

from affectgpt.errors import AffectGPTError
from affectgpt.pipeline.base import MapStep, failure
from affectgpt.pipeline.local import OnResult, process_one

__all__ = ["RayExecutor"]


def _require_ray():
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise AffectGPTError("the Ray executor needs Ray: pip install 'affectgpt[ray]'") from exc
    return ray


class _StepActor:
    """Holds one set-up step; maps batches of ``(index, record)``."""

    def __init__(self, step: MapStep):
        import os

        os.environ.setdefault("OMP_NUM_THREADS", "1")
        self.step = step
        self.step.setup()

    def ready(self) -> bool:
        return True

    def map(self, batch: list[tuple[int, dict]]) -> list[tuple[int, dict]]:
        return [(i, process_one(self.step, r)) for i, r in batch]


class RayExecutor:
    """Run a :class:`MapStep` on Ray actors.

    Args:
        workers: number of actors.
        address: a cluster address (``ray://host:10001`` or ``auto``); ``None`` starts (or joins)
            a local instance. A Ray instance this executor started is shut down by :meth:`close`.
        batch_size: records per actor call (amortises Ray's per-call cost).
        init_kwargs: more ``ray.init`` arguments, e.g. ``{"num_cpus": 2}``.
    """

    name = "ray"

    def __init__(self, workers: int = 1, address: str | None = None, batch_size: int = 64,
                 init_kwargs: dict | None = None):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers, self.address, self.batch_size = workers, address, batch_size
        self.init_kwargs = dict(init_kwargs or {})
        self._started = False

    def settings(self) -> dict:
        return {"executor": self.name, "workers": self.workers, "address": self.address}

    def _init(self):
        ray = _require_ray()
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False,
                      **self.init_kwargs}
            if self.address:
                kwargs["address"] = self.address
            else:  # a local instance sees the driver's modules, as spawned local workers do
                import os
                import sys

                path = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
                env = kwargs.setdefault("runtime_env", {}).setdefault("env_vars", {})
                env.setdefault("PYTHONPATH", path)
            ray.init(**kwargs)
            self._started = self.address is None
        return ray

    def close(self) -> None:
        """Shut down the Ray instance this executor started (not a cluster it joined)."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def map(self, step: MapStep, tasks: list[tuple[int, dict]], on_result: OnResult) -> None:
        """Process every ``(index, record)``; ``on_result`` runs on the driver as batches finish."""
        if not tasks:
            return
        ray = self._init()
        resources = dict(getattr(step, "resources", None) or {"num_cpus": 1})
        actor_cls = ray.remote(**resources)(_StepActor).options(max_restarts=0)
        n = min(self.workers, len(tasks))
        size = max(1, min(self.batch_size, -(-len(tasks) // n)))
        batches = deque(tasks[i:i + size] for i in range(0, len(tasks), size))
        singles: deque = deque()  # records of a batch whose actor died: retried one by one
        idle = [actor_cls.remote(step) for _ in range(n)]
        running: dict = {}
        try:
            try:  # a step that cannot be set up stops the run with its reason, not as N deaths
                ray.get([a.ready.remote() for a in idle])
            except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as exc:
                raise AffectGPTError(f"step {step.name}: Ray worker could not start: {exc}") from None
            while batches or singles or running:
                while idle and (singles or batches):
                    actor = idle.pop()
                    batch, single = ([singles.popleft()], True) if singles else (batches.popleft(), False)
                    running[actor.map.remote(batch)] = (actor, batch, single)
                done, _ = ray.wait(list(running), num_returns=1)
                ref = done[0]
                actor, batch, single = running.pop(ref)
                try:
                    results = ray.get(ref)
                except ray.exceptions.RayActorError as exc:
                    ray.kill(actor, no_restart=True)
                    idle.append(actor_cls.remote(step))
                    if single:
                        idx, record = batch[0]
                        name = record.get("path") or record.get("id")
                        on_result(idx, failure(record, "worker died", f"{name}: worker died while processing "
                                                                      f"it ({type(exc).__name__})"))
                    else:
                        singles.extend(batch)
                    continue
                except ray.exceptions.RayTaskError as exc:  # set-up failed inside the actor
                    raise AffectGPTError(f"step {step.name}: Ray worker failed: {exc}") from None
                idle.append(actor)
                for idx, out in results:
                    on_result(idx, out)
        finally:
            for actor in idle + [a for a, _, _ in running.values()]:
                try:
                    ray.kill(actor, no_restart=True)
                except Exception:  # noqa: BLE001, S110 - the actor may be gone already
                    pass
