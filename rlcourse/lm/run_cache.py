"""Deterministic runs that several pages of one book build share, computed once per build.

The same PPO run appears on several pages of Chapters 6 and 7 (Section 6.8's seed 0 is also the RLHF
model of Section 6.11 and of Constitutional AI's comparison), and two pages collect the same 1,500
comparisons. A page asks for such a run through this module:

    run = ppo_run(sft, tokenizer, reward_model, PROMPTS, PPOConfig(steps=50, lr=3e-4, beta=0.1))
    run.policy, run.history, run.policy_at(10)       # the policy after step 10 of the same run
    comparisons = cached(collect_comparisons, sft, tokenizer, PROMPTS, 1500, seed=1)

Without the environment variable ``RLCOURSE_RUN_CACHE`` (a student running a page, a test) both
simply compute. ``python -m autograde book`` sets it to a folder under ``_build/`` that it empties
before the pages run, so a run is trained at most once per build and every number a page shows is
still measured by the build that shows it; nothing is kept in the repository or shipped with the
book. An entry is keyed by a digest of everything the result depends on: the exact inputs (model
weights and configurations, the tokenizer, the prompts, the configuration, every argument) and the
source of the support package (``rlcourse/**/*.py``) with the versions and floating-point settings
that run it. It is written to a temporary file and renamed (``os.replace``), so a page executing at
the same time reads a whole entry or none; two pages that miss at once both compute, and write the
same entry. Entries are ``torch.save`` pickles, read only from the folder the build itself writes.

A PPO run of ``s`` steps is the first ``s`` steps of a longer run with the same settings: the loop's
step does not depend on the total (constant learning rates, one generator and one NumPy generator
drawn step after step; ``tests/test_run_cache.py`` checks it). So :func:`ppo_run` keeps the policy
every :data:`SNAPSHOT_EVERY` steps and serves a shorter run from a longer one.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

ENV = "RLCOURSE_RUN_CACHE"
"""The environment variable that names the cache's folder (unset: nothing is cached)."""
SNAPSHOT_EVERY = 5
"""Steps between the policies :func:`ppo_run` keeps (and after the last step)."""
PACKAGE = Path(__file__).resolve().parent.parent
"""``rlcourse/``: its Python source is part of every key."""
FLOAT_SETTINGS = ("ATEN_CPU_CAPABILITY", "OPENBLAS_CORETYPE", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def cache_dir() -> Path | None:
    """The cache's folder, or ``None`` when caching is off."""
    value = os.environ.get(ENV)
    return Path(value) if value else None


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """A digest of the support package's source and of what runs it (versions, floating-point settings)."""
    from importlib import metadata

    h = hashlib.sha256(f"{platform.python_version()} {platform.machine()}".encode())
    for package in ("numpy", "torch", "transformers", "tokenizers"):
        h.update(f"{package}=={metadata.version(package)};".encode())
    for name in FLOAT_SETTINGS:
        h.update(f"{name}={os.environ.get(name)};".encode())
    h.update(f"threads={torch.get_num_threads()};".encode())
    for path in sorted(PACKAGE.rglob("*.py")):
        h.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _feed(h, obj) -> None:
    """Update the hash ``h`` with everything ``obj``'s value consists of (raises on what it cannot read)."""
    def tag(text):
        h.update(f"<{text}>".encode())

    if obj is None or isinstance(obj, (bool, int, float, str)):
        tag(f"{type(obj).__name__} {obj!r}")  # a float's repr round-trips exactly
    elif isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        tag(f"tensor {t.dtype} {tuple(t.shape)}")
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, np.ndarray):
        tag(f"ndarray {obj.dtype} {obj.shape}")
        h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, torch.nn.Module):  # the weights, and the configurations that shape the computation
        tag(f"module {type(obj).__module__}.{type(obj).__qualname__}")
        for name, sub in obj.named_modules():
            config = getattr(sub, "config", None)
            if hasattr(config, "to_json_string"):
                tag(f"config {name}")
                h.update(config.to_json_string(use_diff=False).encode())
        for name, tensor in obj.state_dict().items():
            tag(name)
            _feed(h, tensor)
    elif hasattr(obj, "backend_tokenizer"):  # a transformers fast tokenizer
        tag(f"tokenizer {type(obj).__qualname__} {obj.padding_side} {obj.truncation_side}")
        state = json.loads(obj.backend_tokenizer.to_str())
        for setting in ("padding", "truncation"):  # left by the last call; every call sets its own
            state.pop(setting, None)
        h.update(json.dumps(state, sort_keys=True).encode())
        _feed(h, {str(k): str(v) for k, v in obj.special_tokens_map.items()})
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        tag(f"dataclass {type(obj).__module__}.{type(obj).__qualname__}")
        for f in dataclasses.fields(obj):
            tag(f.name)
            _feed(h, getattr(obj, f.name))
    elif isinstance(obj, (list, tuple)):
        tag(f"{type(obj).__name__} {len(obj)}")
        for item in obj:
            _feed(h, item)
    elif isinstance(obj, dict):
        tag(f"dict {len(obj)}")
        for key, value in obj.items():
            _feed(h, key)
            _feed(h, value)
    else:
        raise TypeError(f"run_cache cannot key a {type(obj).__qualname__}: pass values it can digest "
                        "(tensors, modules, tokenizers, dataclasses, containers, numbers, strings)")


def key(*parts) -> str:
    """The digest that names an entry: ``parts`` by value, with :func:`code_digest`."""
    h = hashlib.sha256(code_digest().encode())
    _feed(h, parts)
    return h.hexdigest()[:32]


def _store(path: Path, value) -> None:
    """Write ``value`` to ``path`` atomically: a temporary file in the same folder, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(value, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load(path: Path):
    return torch.load(path, weights_only=False)  # only entries this build wrote are read


def cached(fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)``, read from the cache when this build already computed it with the same
    arguments and code. ``fn`` must be deterministic given its arguments (seeded by them)."""
    folder = cache_dir()
    if folder is None:
        return fn(*args, **kwargs)
    path = folder / f"{fn.__module__}.{fn.__qualname__}-{key(fn.__module__, fn.__qualname__, args, kwargs)}.pt"
    if path.exists():
        return _load(path)
    result = fn(*args, **kwargs)
    _store(path, result)
    return result


@dataclass
class PPORun:
    """A PPO run: the final policy, its history, and the policy every :data:`SNAPSHOT_EVERY` steps."""

    policy: torch.nn.Module
    """The policy after the last step (in eval mode, as ``train_ppo`` returns it)."""
    history: object
    """The run's ``PPOHistory``."""
    seconds: float
    """Wall time of its training, measured by the page of this build that trained it."""
    snapshots: dict[int, dict] = field(default_factory=dict, repr=False)
    """Step -> the policy's ``state_dict`` after that step."""

    def policy_at(self, step: int) -> torch.nn.Module:
        """The policy after ``step`` (a multiple of :data:`SNAPSHOT_EVERY`, or the last step), in eval mode."""
        if step not in self.snapshots:
            raise KeyError(f"no policy kept after step {step}: kept after {sorted(self.snapshots)}")
        return _with_state(self.policy, self.snapshots[step])


def _with_state(template: torch.nn.Module, state: dict) -> torch.nn.Module:
    model = copy.deepcopy(template)
    model.load_state_dict(state)
    return model.eval()


def _history_prefix(history, steps: int, sample_every: int):
    """The history of the first ``steps`` steps of a run that kept replies at every step, as a run of
    ``steps`` steps keeping them every ``sample_every`` steps records it."""
    out = copy.deepcopy(history)
    for f in dataclasses.fields(out):
        if f.name != "replies":
            setattr(out, f.name, getattr(out, f.name)[:steps])
    out.replies = [history.replies[s - 1] for s in range(sample_every, steps + 1, sample_every)] if sample_every else []
    return out


def ppo_run(policy_start, tokenizer, reward_model, prompts: list[str], config, value_start=None,
            sample_every: int = 0, progress=None) -> PPORun:
    """``train_ppo(policy_start, tokenizer, reward_model, prompts, config, value_start=value_start,
    sample_every=sample_every, progress=progress)`` as a :class:`PPORun`, with the policies it passed
    through; read from the cache when this build already ran the same settings for at least
    ``config.steps`` steps (the history cut to ``config.steps``). The exercise functions are the
    references (``pieces`` is not taken)."""
    from rlcourse.lm.ppo import train_ppo

    folder = cache_dir()
    name = ""
    if folder is not None:  # the number of steps is left out of the key: a longer run serves a shorter one
        name = "ppo_run-" + key("ppo_run", policy_start, tokenizer, reward_model, prompts,
                                dataclasses.replace(config, steps=0), value_start)
        for path in sorted(folder.glob(f"{name}.*.pt"), key=lambda p: int(p.suffixes[-2][1:])):
            if int(path.suffixes[-2][1:]) >= config.steps:
                entry = _load(path)
                if config.steps in entry["snapshots"]:
                    return _serve(entry, policy_start, config.steps, sample_every)

    snapshots, elapsed, start = {}, [], time.perf_counter()

    def keep(step, policy):
        if step % SNAPSHOT_EVERY == 0 or step == config.steps:
            snapshots[step] = {k: v.detach().clone() for k, v in policy.state_dict().items()}
        elapsed.append(time.perf_counter() - start)

    # replies kept at every step (reading them draws no random numbers), cut to sample_every below
    policy, history = train_ppo(policy_start, tokenizer, reward_model, prompts, config, value_start=value_start,
                                progress=progress, sample_every=1, callback=keep)
    entry = {"steps": config.steps, "history": history, "snapshots": snapshots, "elapsed": elapsed}
    if folder is not None:
        _store(folder / f"{name}.{config.steps}.pt", entry)
    return PPORun(policy, _history_prefix(history, config.steps, sample_every), elapsed[-1], snapshots)


def _serve(entry: dict, policy_start, steps: int, sample_every: int) -> PPORun:
    snapshots = {s: state for s, state in entry["snapshots"].items() if s <= steps}
    policy = _with_state(policy_start, snapshots[steps])
    return PPORun(policy, _history_prefix(entry["history"], steps, sample_every), entry["elapsed"][steps - 1],
                  snapshots)
