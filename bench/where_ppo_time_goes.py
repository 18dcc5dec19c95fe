"""Where a step of Chapter 6's PPO loop spends its time, natively and with the other floating-point kernels.

    .venv/bin/python bench/where_ppo_time_goes.py [--steps 8]

Runs ``train_ppo`` (the shipped ``replies-sft`` and ``replies-rm``, Chapter 6's settings) under
``torch.profiler`` twice, with one thread as the book build runs each page: in this process (this
machine's kernels) and in a child process with the suite's other kernels (``OPENBLAS_CORETYPE=Prescott
ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1``, as ``tests/test_book.py`` builds the book). Printed for
each: seconds per step (from a run without the profiler), the fraction of the step spent inside
PyTorch's operators (the rest is Python between them: the loop and the code around the models;
autograd's and the optimiser's own events count as operators), and how the operators' own time splits
into groups (matrix products, attention, GELU, layer norm, optimiser, other operators). Then GPT-2's
GELU (tanh approximation), forward and backward on one MLP activation of a PPO batch (1088 x 512): as
PyTorch's fused kernel, as the course's models compute it (``rlcourse.lm.models.GELUTanh``: the fused
kernel, except where PyTorch runs its generic CPU kernels, as with the other kernels, where it composes
plain tensor operations; its operators then count as "other operators" above), and the exact GELU, a
different function (within 0.0005), for which the checkpoints would have to be retrained.
Figures, not a test: they depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

OTHER_KERNELS = {"OPENBLAS_CORETYPE": "Prescott", "ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1"}
GROUPS = {  # operator name -> group (self time of the operator, children excluded)
    "matrix products": ("aten::mm", "aten::addmm", "aten::bmm", "aten::linear"),
    "attention": ("aten::_scaled_dot_product_flash_attention_for_cpu",
                  "aten::_scaled_dot_product_flash_attention_for_cpu_backward"),
    "GELU": ("aten::gelu", "aten::gelu_backward"),
    "layer norm": ("aten::native_layer_norm", "aten::native_layer_norm_backward"),
    "optimiser": ("aten::lerp_", "aten::addcdiv_", "aten::addcmul_", "aten::sqrt", "aten::_foreach_sqrt",
                  "aten::_foreach_addcdiv_", "aten::_foreach_lerp_", "aten::_foreach_mul_", "aten::_foreach_add_",
                  "aten::_foreach_div_", "aten::_foreach_addcmul_", "aten::_foreach_norm",
                  "aten::linalg_vector_norm"),
}


def profile_ppo(steps: int) -> dict:
    """Seconds per step and the share of each group of operators in one profiled PPO run."""
    from torch.profiler import ProfilerActivity, profile

    from rlcourse.lm.checkpoints import load_checkpoint, load_reward_model
    from rlcourse.lm.ppo import PPOConfig, train_ppo
    from rlcourse.lm.preferences import prompts

    sft, tokenizer, _ = load_checkpoint("replies-sft")
    reward_model, _ = load_reward_model("replies-rm")
    config = PPOConfig(steps=steps, lr=3e-4, beta=0.1)
    train_ppo(sft, tokenizer, reward_model, prompts(), PPOConfig(steps=1))  # warm-up
    start = time.perf_counter()
    train_ppo(sft, tokenizer, reward_model, prompts(), config)
    seconds = (time.perf_counter() - start) / steps
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        train_ppo(sft, tokenizer, reward_model, prompts(), config)
        profiled = time.perf_counter() - start
    self_times = {e.key: e.self_cpu_time_total for e in prof.key_averages()}  # microseconds
    total = sum(self_times.values())
    shares = {group: sum(self_times.get(op, 0) for op in ops) / total for group, ops in GROUPS.items()}
    shares["other operators"] = 1 - sum(shares.values())
    return {"seconds_per_step": seconds, "batch_size": config.batch_size, "in_operators": total / 1e6 / profiled,
            "shares": shares, "gelu": gelu_times()}


def gelu_times(n: int = 50) -> dict:
    """Microseconds of forward + backward of GPT-2's GELU (PyTorch's fused kernel, and as the course's
    models compute it) and of the exact GELU, on a (1088, 512) tensor."""
    from rlcourse.lm.models import GELUTanh

    x = torch.randn(1088, 512, requires_grad=True, generator=torch.Generator().manual_seed(0))
    grad = torch.ones(1088, 512)
    out = {}
    for name, gelu in [("tanh approximation, PyTorch's fused kernel", partial(F.gelu, approximate="tanh")),
                       ("tanh approximation, as the course computes it", GELUTanh()),
                       ("exact (another function)", F.gelu)]:
        torch.autograd.grad(gelu(x), x, grad)
        start = time.perf_counter()
        for _ in range(n):
            torch.autograd.grad(gelu(x), x, grad)
        out[name] = (time.perf_counter() - start) / n * 1e6
    return out


def report(title: str, figures: dict) -> None:
    print(f"{title}: {figures['seconds_per_step'] * 1000:.0f} ms per PPO step (batch {figures['batch_size']}), "
          f"{figures['in_operators']:.0%} of it inside PyTorch's operators; their time:")
    for group, share in figures["shares"].items():
        print(f"  {group:<50}{share:6.1%}")
    for name, us in figures["gelu"].items():
        print(f"  GELU, {name}: {us:,.0f} us forward + backward on 1088 x 512")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=8, help="PPO steps per profiled run (default 8)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # the other kernels' run: figures as JSON on stdout
        print(json.dumps(profile_ppo(args.steps)))
        return 0
    torch.set_num_threads(1)
    report("this machine's kernels, 1 thread", profile_ppo(args.steps))
    child = subprocess.run([sys.executable, __file__, "--child", "--steps", str(args.steps)], capture_output=True,
                           text=True, env={**os.environ, **OTHER_KERNELS}, check=True)
    report("the other kernels, 1 thread (" + " ".join(f"{k}={v}" for k, v in OTHER_KERNELS.items()) + ")",
           json.loads(child.stdout.strip().splitlines()[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
