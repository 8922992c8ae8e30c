"""The local executor: a :class:`~affectgpt.pipeline.base.MapStep` over records in this process
(``workers=1``) or in N worker processes.

Worker processes are started with ``spawn`` (forking a process that already runs torch or
MediaPipe threads can deadlock) and receive one record at a time over a pipe, so the parent always
knows which record each worker holds:

* a worker that dies (killed, out of memory, a crash in native code) takes only its record with
  it: that record gets ``reason: "worker died"``, a new worker is started and the run goes on;
* workers exit when the parent dies, even a SIGKILLed parent: on Linux the kernel sends them
  SIGKILL (``PR_SET_PDEATHSIG``), and a watchdog thread checks the parent elsewhere.
"""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time
from collections import deque
from collections.abc import Callable

from affectgpt.errors import AffectGPTError
from affectgpt.pipeline.base import MapStep, failure

__all__ = ["LocalExecutor", "process_one"]

OnResult = Callable[[int, dict], None]


def process_one(step: MapStep, record: dict) -> dict:
    """``step.process(record)``, with any exception turned into a failure record naming the input."""
    try:
        out = step.process(record)
    except Exception as exc:  # noqa: BLE001 - a batch records any failure and goes on
        name = record.get("path") or record.get("id")
        msg = str(exc)
        if name and str(name) not in msg:
            msg = f"{name}: {msg}"
        if not isinstance(exc, (AffectGPTError, OSError, ValueError)):
            msg = f"{name}: {type(exc).__name__}: {exc}"
        return failure(record, type(exc).__name__, msg)
    if not isinstance(out, dict):
        return failure(record, "bad step output", f"{record.get('id')}: step {step.name} returned "
                       f"{type(out).__name__}, not a record")
    return out


def _die_with_parent(parent: int) -> None:
    """Make this worker exit when its parent does (kernel signal on Linux, plus a watchdog)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True, name="parent-watchdog").start()


def _worker_main(conn, step_blob: bytes, parent: int, env: dict) -> None:
    _die_with_parent(parent)
    os.environ.update(env)
    try:
        step: MapStep = pickle.loads(step_blob)
        step.setup()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which stops the run
        try:
            conn.send(("setup-failed", f"{type(exc).__name__}: {exc}"))
        finally:
            os._exit(3)
    conn.send(("ready", os.getpid()))
    try:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            if msg is None:
                break
            idx, record = msg
            conn.send(("done", (idx, process_one(step, record))))
    finally:
        try:
            step.close()
        except Exception:  # noqa: BLE001, S110 - exiting anyway
            pass


class _Worker:
    def __init__(self, ctx, blob: bytes, env: dict):
        parent_conn, child_conn = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child_conn, blob, os.getpid(), env), daemon=True)
        self.proc.start()
        child_conn.close()
        self.conn = parent_conn
        self.task: tuple[int, dict] | None = None
        self.ready = False

    def stop(self, timeout: float = 5.0) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def _death(proc) -> str:
    code = proc.exitcode
    if code is not None and code < 0:
        try:
            return f"worker died (signal {signal.Signals(-code).name})"
        except ValueError:
            return f"worker died (signal {-code})"
    return f"worker died (exit code {code})"


class LocalExecutor:
    """Run a :class:`MapStep` over records on this machine.

    Args:
        workers: 1 runs in this process (no pickling: any step works); N > 1 starts N worker
            processes, each calling ``step.setup()`` once.
        env: environment variables set in each worker before the step is unpickled
            (default ``OMP_NUM_THREADS=1`` so N workers do not oversubscribe the cores).
    """

    name = "local"

    def __init__(self, workers: int = 1, env: dict | None = None):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self.env = {"OMP_NUM_THREADS": "1", **(env or {})}

    def settings(self) -> dict:
        return {"executor": self.name, "workers": self.workers}

    def map(self, step: MapStep, tasks: list[tuple[int, dict]], on_result: OnResult) -> None:
        """Process every ``(index, record)``; ``on_result(index, output)`` is called in this
        process, once per task, as each finishes (in completion order)."""
        if not tasks:
            return
        if self.workers == 1 or len(tasks) == 1:
            step.setup()
            try:
                for idx, record in tasks:
                    on_result(idx, process_one(step, record))
            finally:
                step.close()
            return
        self._map_pool(step, tasks, on_result)

    def _map_pool(self, step: MapStep, tasks: list[tuple[int, dict]], on_result: OnResult) -> None:
        import multiprocessing
        from multiprocessing.connection import wait

        ctx = multiprocessing.get_context("spawn")
        blob = pickle.dumps(step)
        pending = deque(tasks)
        pool = [_Worker(ctx, blob, self.env) for _ in range(min(self.workers, len(tasks)))]
        early_deaths = 0
        try:
            while pending or any(w.task is not None for w in pool):
                for w in pool:
                    if w.ready and w.task is None and pending:
                        w.task = pending.popleft()
                        w.conn.send(w.task)
                watch = {}
                for w in pool:
                    watch[w.conn] = w
                    watch[w.proc.sentinel] = w
                for obj in wait(list(watch)):
                    w = watch[obj]
                    if obj is w.conn:
                        try:
                            kind, payload = w.conn.recv()
                        except (EOFError, OSError):
                            continue  # the sentinel reports the death
                        if kind == "ready":
                            w.ready = True
                        elif kind == "setup-failed":
                            raise AffectGPTError(f"step {step.name}: worker set-up failed: {payload}")
                        else:
                            idx, out = payload
                            w.task = None
                            on_result(idx, out)
                for w in list(pool):
                    if w.proc.exitcode is None:
                        continue
                    while w.conn.poll():  # a result sent just before dying still counts
                        try:
                            kind, payload = w.conn.recv()
                        except (EOFError, OSError):
                            break
                        if kind == "done":
                            w.task = None
                            on_result(*payload)
                        elif kind == "setup-failed":
                            raise AffectGPTError(f"step {step.name}: worker set-up failed: {payload}")
                    if w.task is not None:
                        idx, record = w.task
                        name = record.get("path") or record.get("id")
                        on_result(idx, failure(record, "worker died", f"{name}: {_death(w.proc)} while "
                                                                       "processing it"))
                    w.conn.close()
                    pool.remove(w)
                    if not w.ready:
                        early_deaths += 1
                        if early_deaths >= 3:
                            raise AffectGPTError(f"step {step.name}: workers died while loading "
                                                 f"({_death(w.proc)}), 3 times")
                    if pending:
                        pool.append(_Worker(ctx, blob, self.env))
        finally:
            for w in pool:
                w.stop()
