"""Independent runs of a page on every CPU core it may use, with the numbers of one run after another.

Several pages of Chapters 6 and 7 train the same thing several times with different seeds or data
(three PPO seeds, four reward models per label source). The runs do not depend on each other, and the
models are small enough that one run keeps one core busy and no more, so a page hands them out:

    runs = run_all(train_ppo, [dict(policy_start=sft, tokenizer=tokenizer, reward_model=rm, prompts=PROMPTS,
                                    config=PPOConfig(seed=seed)) for seed in (0, 1, 2)], desc="PPO")

Each job is ``fn(**kwargs)``, run in a worker process with one thread. A job must be seeded by its own
arguments (local generators, as the course's training loops use; nothing drawn from a global one): then
it gives the numbers the same call gives in any process with one thread, whichever worker runs it and
however many there are, so a page's runs show the same figures in the book build (every page executed
with one thread) as in a student's kernel on any number of cores.
``fn`` must be importable by name (a function of a module, not one defined in a notebook); its
arguments and results travel between processes as plain pickles, copied (models included: a few MB each).

Workers: one per CPU core this process may use (``os.sched_getaffinity``, which does not see a
container's CPU quota); the environment variable ``RLCOURSE_WORKERS`` sets another number, and 1 runs
the jobs here, one after another (so does a single job). The workers start on first use (forked on
Linux, at once) and are kept for the next call of the same process. `submit` begins one job and returns
at once, for a run that a later cell needs and that can train while the cells before it run. Once it
has workers, the process itself computes with one thread too: it works beside them (a cell that
evaluates one run while the others train), and PyTorch's threads spin while they wait, so a second
thread would only take a core from a worker (the Constitutional AI page took 63 s on 2 cores with two
threads, 55 s with one).
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Callable

ENV = "RLCOURSE_WORKERS"
"""The environment variable that sets the number of worker processes (1: run in this process)."""

_pool: ProcessPoolExecutor | None = None
_pool_size = 0


def workers() -> int:
    """Worker processes :func:`run_all` uses: ``RLCOURSE_WORKERS``, or this process's usable CPU cores."""
    value = os.environ.get(ENV)
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{ENV} must be a positive whole number, not {value!r}")
        return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _start_worker(parent: int, forked: bool) -> None:
    """A worker's start: one thread for PyTorch's operators (started fresh, for the BLAS libraries too:
    a forked worker's libraries have read their settings already), Ctrl-C left to the process that made
    it (Jupyter's interrupt reaches the whole process group), and on Linux an end with that process (a
    forked worker would otherwise wait for jobs forever when its kernel is killed: it holds its job
    queue's write end itself)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not forked:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[name] = "1"
    if sys.platform == "linux":
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        if libc.prctl(1, signal.SIGKILL, 0, 0, 0) != 0:  # PR_SET_PDEATHSIG
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # it died before the line above
            os._exit(1)
    import torch

    torch.set_num_threads(1)


def _call(payload: bytes) -> bytes:
    """A job in a worker: ``fn(**job)`` from and to plain pickles. Plain pickling copies tensors by value;
    left to multiprocessing, PyTorch would move them into shared memory when the queue's thread sends
    them (while the cell that submitted them may go on using the same weights) and keep a file open per
    tensor received."""
    import pickle

    fn, job = pickle.loads(payload)
    return pickle.dumps(fn(**job), protocol=pickle.HIGHEST_PROTOCOL)


def _payload(fn: Callable, job: dict) -> bytes:
    import pickle

    return pickle.dumps((fn, job), protocol=pickle.HIGHEST_PROTOCOL)


@contextmanager
def _guard():
    """The one error path of this module: after a worker died (killed, out of memory: the pool is broken)
    or an interrupt, the next call starts afresh; on an interrupt the runs under way are stopped too."""
    global _pool
    try:
        yield
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt) and _pool is not None:
            for process in list(getattr(_pool, "_processes", {}).values()):
                process.terminate()
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None
        elif isinstance(error, BrokenProcessPool):
            _pool = None
        raise


def _executor() -> ProcessPoolExecutor:
    global _pool, _pool_size
    size = workers()
    if _pool is None or _pool_size != size or getattr(_pool, "_broken", False):
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
        import multiprocessing

        # On Linux the workers are forked: they start at once, with what this process has imported
        # (started fresh, each spends seconds importing PyTorch and transformers). A forked child must not
        # run OpenMP with several threads, and runs it with one, as PyTorch's DataLoader workers do.
        # Elsewhere (macOS, Windows) they are started fresh ("spawn"), the safe choice there.
        method = "fork" if sys.platform == "linux" else "spawn"
        _pool = ProcessPoolExecutor(size, mp_context=multiprocessing.get_context(method), initializer=_start_worker,
                                    initargs=(os.getpid(), method == "fork"))
        _pool_size = size
        import torch

        torch.set_num_threads(1)  # this process too, from now on: see the module's docstring
    return _pool


def _importable(fn: Callable) -> None:
    name = getattr(fn, "__qualname__", "")
    if not callable(fn) or not name or "<" in name or getattr(fn, "__module__", "__main__") == "__main__":
        raise TypeError(f"run_all needs a function importable by name (defined in a module), not {fn!r}")


def _here(fn: Callable, jobs: list[dict], desc: str = "") -> list:
    """The jobs in this process, one after another, with one thread as in a worker."""
    import torch

    from rlcourse.notebook import progress

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return [fn(**job) for job in (progress(jobs, desc=desc) if desc else jobs)]
    finally:
        torch.set_num_threads(threads)


def run_all(fn: Callable, jobs: list[dict], desc: str = "") -> list:
    """``[fn(**job) for job in jobs]``, the jobs spread over :func:`workers` processes; results in the
    order of ``jobs``. ``desc``: a progress bar over the finished jobs (none if empty). The first job to
    fail raises its exception here, and the jobs not yet started are cancelled."""
    _importable(fn)
    if workers() == 1 or len(jobs) <= 1:
        return _here(fn, jobs, desc)
    started = []
    with _guard():
        try:
            for job in jobs:
                started.append(submit(fn, **job))
            done = as_completed(job.future for job in started)
            if desc:
                from rlcourse.notebook import progress

                done = progress(done, desc=desc, total=len(started))
            for future in done:
                future.result()  # the first to fail raises at once
            return [job.result() for job in started]
        finally:
            for job in started:
                job.future.cancel()  # nothing, once they have all finished


class Job:
    """A job :func:`submit` began; :meth:`result` waits for it."""

    def __init__(self, future: Future):
        self.future = future
        """Its ``concurrent.futures.Future``, whose result is the pickled result."""

    def result(self):
        """The job's result (its exception, if it failed)."""
        import pickle

        with _guard():
            return pickle.loads(self.future.result())


def submit(fn: Callable, **job) -> Job:
    """``fn(**job)`` begun in a worker now, while this process goes on (e.g. a run a later cell needs and
    that depends on nothing the cells before it compute); ``.result()`` waits for it. With one worker it
    is computed here, at once, before this returns."""
    _importable(fn)
    if workers() == 1:
        import pickle

        future = Future()
        try:
            future.set_result(pickle.dumps(_here(fn, [job])[0], protocol=pickle.HIGHEST_PROTOCOL))
        except Exception as error:
            future.set_exception(error)
        return Job(future)
    with _guard():
        return Job(_executor().submit(_call, _payload(fn, job)))
