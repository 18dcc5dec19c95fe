"""rlcourse.parallel.run_all: the runs a page hands to worker processes give the numbers of one run after
another with one thread, in the order of the jobs, and a job's error reaches the caller."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
import torch

from rlcourse import parallel
from rlcourse.lm.checkpoints import load_checkpoint, load_reward_model
from rlcourse.lm.ppo import PPOConfig, train_ppo
from rlcourse.lm.preferences import prompts

REPO = Path(__file__).resolve().parent.parent


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_workers_give_the_numbers_of_one_run_after_another(monkeypatch):
    sft, tokenizer, _ = load_checkpoint("replies-sft")
    reward_model, _ = load_reward_model("replies-rm")
    jobs = [dict(policy_start=sft, tokenizer=tokenizer, reward_model=reward_model, prompts=prompts(),
                 config=PPOConfig(steps=2, batch_size=16, beta=0.1, seed=seed)) for seed in (0, 1, 2)]
    monkeypatch.setenv(parallel.ENV, "2")
    spread = parallel.run_all(train_ppo, jobs)  # three jobs on two workers
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        here = [train_ppo(**job) for job in jobs]
    finally:
        torch.set_num_threads(threads)
    for (policy, history), (expected, expected_history) in zip(spread, here, strict=True):
        assert same_weights(policy, expected) and history.gold == expected_history.gold
    assert not same_weights(spread[0][0], spread[1][0]), "the jobs are not the same run"
    monkeypatch.setenv(parallel.ENV, "1")  # in this process, with one thread, whatever it had
    torch.set_num_threads(2)
    try:
        (policy, _), = parallel.run_all(train_ppo, jobs[1:2])
        assert torch.get_num_threads() == 2, "the thread count is given back"
    finally:
        torch.set_num_threads(threads)
    assert same_weights(policy, here[1][0])


def echo_after(value, seconds: float):
    time.sleep(seconds)
    return value


def test_results_keep_the_order_of_the_jobs(monkeypatch):
    monkeypatch.setenv(parallel.ENV, "2")
    jobs = [dict(value=i, seconds=0.1 * (6 - i)) for i in range(6)]  # the later jobs finish first
    assert parallel.run_all(echo_after, jobs, desc="echo") == list(range(6))


def test_a_jobs_error_is_raised(monkeypatch):
    monkeypatch.setenv(parallel.ENV, "2")
    with pytest.raises(json.JSONDecodeError):
        parallel.run_all(json.loads, [dict(s="[1]"), dict(s="[1")])


def test_unimportable_functions_and_bad_settings_are_refused(monkeypatch):
    for fn in (lambda x: x, echo_after.__call__, None):
        with pytest.raises(TypeError, match="importable"):
            parallel.run_all(fn, [dict(x=1), dict(x=2)])
    monkeypatch.setenv(parallel.ENV, "two")
    with pytest.raises(ValueError, match="RLCOURSE_WORKERS"):
        parallel.workers()
    monkeypatch.delenv(parallel.ENV)
    assert parallel.workers() >= 1


@pytest.mark.skipif(sys.platform != "linux", reason="the workers are forked on Linux only")
def test_workers_end_with_a_killed_kernel(tmp_path):
    script = textwrap.dedent("""
        import os, signal
        from rlcourse import parallel
        from tests.test_parallel import echo_after
        os.environ[parallel.ENV] = "2"
        assert parallel.run_all(echo_after, [dict(value=1, seconds=0), dict(value=2, seconds=0)]) == [1, 2]
        print(*parallel._pool._processes, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    out, err = tmp_path / "out", tmp_path / "err"  # files: a worker left alive would hold a pipe open
    with out.open("w") as stdout, err.open("w") as stderr:
        subprocess.run([sys.executable, "-c", script], cwd=REPO, stdout=stdout, stderr=stderr, timeout=120)
    pids = [int(p) for p in out.read_text().split()]
    assert len(pids) == 2, err.read_text()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        time.sleep(0.1)
    alive = [p for p in pids if Path(f"/proc/{p}").exists()]
    for p in alive:
        os.kill(p, signal.SIGKILL)
    assert not alive, "a worker outlived its kernel"


def killed_after(seconds: float):
    time.sleep(seconds)
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_dead_worker_is_reported_and_replaced(monkeypatch):
    monkeypatch.setenv(parallel.ENV, "2")
    with pytest.raises(BrokenProcessPool):
        parallel.run_all(killed_after, [dict(seconds=0), dict(seconds=0.5)])
    assert parallel.run_all(echo_after, [dict(value=1, seconds=0), dict(value=2, seconds=0)]) == [1, 2]


def test_a_started_job_runs_while_this_process_goes_on(monkeypatch):
    monkeypatch.setenv(parallel.ENV, "2")
    began = time.monotonic()
    started = parallel.submit(echo_after, value="done", seconds=1.0)
    assert time.monotonic() - began < 0.5, "submit returns before the job ends"
    assert parallel.run_all(echo_after, [dict(value=1, seconds=0), dict(value=2, seconds=0)]) == [1, 2]
    assert started.result() == "done" and time.monotonic() - began >= 1.0
    with pytest.raises(json.JSONDecodeError):
        parallel.submit(json.loads, s="[1").result()
    monkeypatch.setenv(parallel.ENV, "1")  # here, at once
    began = time.monotonic()
    started = parallel.submit(echo_after, value="here", seconds=0.5)
    assert time.monotonic() - began >= 0.5 and started.result() == "here"


def test_the_process_computes_with_one_thread_once_it_has_workers(monkeypatch):
    monkeypatch.setenv(parallel.ENV, "3")  # a pool of another size: made afresh
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert parallel.run_all(echo_after, [dict(value=1, seconds=0), dict(value=2, seconds=0)]) == [1, 2]
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)


def test_a_worker_that_dies_while_idle_does_not_break_the_next_call(monkeypatch):
    monkeypatch.setenv(parallel.ENV, "2")
    assert parallel.run_all(echo_after, [dict(value=1, seconds=0), dict(value=2, seconds=0)]) == [1, 2]
    os.kill(next(iter(parallel._pool._processes)), signal.SIGKILL)  # e.g. killed for memory
    time.sleep(1.0)  # the pool notices
    assert parallel.run_all(echo_after, [dict(value=3, seconds=0), dict(value=4, seconds=0)]) == [3, 4]
    assert parallel.submit(echo_after, value=5, seconds=0).result() == 5


def test_arguments_are_copied_when_submitted(monkeypatch):
    monkeypatch.setenv(parallel.ENV, "2")
    weights = torch.zeros(1000)
    job = parallel.submit(torch.clone, input=weights)
    weights += 1  # the cell goes on and changes them: the job has its own copy, taken at submit
    assert torch.equal(job.result(), torch.zeros(1000))
