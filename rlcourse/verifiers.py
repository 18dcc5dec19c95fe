"""Running sums written step by step, for Chapter 7: a solver that slips, a checker, and outcome and
process reward models (ORM and PRM) trained on the same solutions.

A **problem** is a list of small numbers to add (``[7, 5, 9, 3, 8]``); a **solution** writes the running
sum one step at a time, each step ``total + term = new total`` (``7+5=12``, ``12+9=21``, ...), and its
final answer is the last total.

The **solver** (:func:`solve`) stands in for a language model asked to show its work. It is a
simulated solver, not a trained network (a tiny model that writes multi-step solutions would eat the
page's time budget), with the two kinds of slip that matter for the chapter's question:

- a *habit*: with probability ``careless`` a whole sample forgets every carry (``18+5=13``), the
  same wrong answer every time it happens, like Chapter 5's careless demonstrators;
- *accidents*: in a careful sample each step goes wrong with probability ``slip``: a total off by
  one, or a term added twice (the solution gets one step longer).

After a slip the solver carries on from its wrong total, as a model does. The **checker**
(:func:`step_correct`) knows arithmetic and marks every step right or wrong; it plays the part of
PRM800K's human raters.

The **reward models** are the same small network (:class:`StepScorer`: an MLP reads each step's
digits, one-hot) with two kinds of supervision, as in Lightman et al. (2023): the ORM learns from
whether the final answer is right (one label per solution, read after the last step); the PRM learns
from the checker's step labels up to the first wrong step (one label per step).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

MAX_TERMS = 6
"""Most numbers in a problem."""
MAX_STEPS = MAX_TERMS
"""Most steps in a solution (a repeated term adds one)."""


@dataclass(frozen=True)
class Step:
    """One written step: ``total + term = result``."""

    total: int
    term: int
    result: int

    def __str__(self) -> str:
        return f"{self.total}+{self.term}={self.result}"


@dataclass(frozen=True)
class Solution:
    problem: tuple[int, ...]
    steps: tuple[Step, ...]

    @property
    def answer(self) -> int:
        return self.steps[-1].result

    def __str__(self) -> str:
        return "; ".join(map(str, self.steps))


@dataclass
class Solver:
    """The simulated solver's slip rates."""

    careless: float = 0.4
    """Probability that a sample forgets every carry (the habit)."""
    slip: float = 0.1
    """Probability that a careful step goes wrong (off by one, or a term added twice)."""


def problems(n: int, seed: int, terms=(4, MAX_TERMS - 1)) -> list[tuple[int, ...]]:
    """``n`` problems of ``terms[0]`` to ``terms[1]`` numbers from 1 to 9; the first is the starting total."""
    rng = np.random.default_rng(seed)
    return [tuple(int(x) for x in rng.integers(1, 10, size=rng.integers(terms[0], terms[1] + 1))) for _ in range(n)]


def add_without_carry(a: int, b: int) -> int:
    """``a + b`` digit by digit, every carry forgotten (``18 + 5 = 13``)."""
    out, place = 0, 1
    while a or b:
        out += ((a % 10 + b % 10) % 10) * place
        a, b, place = a // 10, b // 10, place * 10
    return out


def solve(problem: tuple[int, ...], solver: Solver, rng: np.random.Generator) -> Solution:
    """One sampled solution of ``problem``."""
    careless = rng.random() < solver.careless
    total, steps, terms = problem[0], [], list(problem[1:])
    i = 0
    while i < len(terms):
        term = terms[i]
        result = add_without_carry(total, term) if careless else total + term
        if not careless and rng.random() < solver.slip:
            if rng.random() < 0.5 and len(steps) + len(terms) - i < MAX_STEPS:
                terms.insert(i, term)  # this term gets added twice
            else:
                result += int(rng.choice((-1, 1)))
        steps.append(Step(total, term, result))
        total, i = result, i + 1
    return Solution(problem, tuple(steps))


def step_correct(solution: Solution) -> list[bool]:
    """The checker: is step ``i`` right, i.e. adds the problem's next number to the previous total correctly?

    A step after the problem's last number (a term added twice pushes one there) is wrong.
    """
    out, total = [], solution.problem[0]
    for i, s in enumerate(solution.steps):
        expected = solution.problem[i + 1] if i + 1 < len(solution.problem) else None
        out.append(s.total == total and s.term == expected and s.result == s.total + s.term)
        total = s.result
    return out


def final_correct(solution: Solution) -> bool:
    """Is the final answer the sum of the problem's numbers (whatever the steps did)?"""
    return solution.answer == sum(solution.problem)


# ----- the reward models ----------------------------------------------------------------------------
def _digits(x: int | None) -> list[int]:
    """Tens and units of a number up to 99 as two one-hot slots (index 10: no number)."""
    return [10, 10] if x is None else [min(x // 10, 9), x % 10]


def encode(solutions: list[Solution]) -> tuple[torch.Tensor, torch.Tensor]:
    """The reward models' view of each step: its digits and the problem's number due at that step.

    Returns:
        features: (B, MAX_STEPS, 9 * 11 + MAX_STEPS) one-hot digits of the previous total, the term,
            the result, the problem's next number and the number after it, and the step's index.
        mask: (B, MAX_STEPS) 1 where the solution has a step.
    """
    B = len(solutions)
    slots = torch.full((B, MAX_STEPS, 9), 10, dtype=torch.long)
    index = torch.zeros(B, MAX_STEPS, dtype=torch.long)
    mask = torch.zeros(B, MAX_STEPS)
    for b, sol in enumerate(solutions):
        p = sol.problem
        for i, s in enumerate(sol.steps):
            due = p[i + 1] if i + 1 < len(p) else None
            after = p[i + 2] if i + 2 < len(p) else None
            digits = _digits(s.total) + [s.term % 10] + _digits(s.result) + [10 if due is None else due] + [
                10 if after is None else after] + [i % 10, min(max(len(p) - 1 - i, 0), 9)]
            slots[b, i] = torch.tensor(digits)
            index[b, i] = i
            mask[b, i] = 1.0
    onehot = nn.functional.one_hot(slots, 11).flatten(2).float()  # (B, S, 99)
    return torch.cat([onehot, nn.functional.one_hot(index, MAX_STEPS).float()], dim=-1), mask


class StepScorer(nn.Module):
    """An MLP that turns every step into a logit; the ORM pools its step encodings, the PRM reads each.

    ``forward`` returns (B, S) step logits (PRM) and (B,) solution logits (ORM: a head on the
    masked sum of the step encodings, so it sees every step but is told only about the end).
    """

    def __init__(self, n_features: int, hidden: int = 128):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.step_head = nn.Linear(hidden, 1)
        self.solution_head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, features, mask):
        h = self.encoder(features)  # (B, S, H)
        pooled = (h * mask[..., None]).sum(dim=1)  # (B, H)
        return self.step_head(h).squeeze(-1), self.solution_head(pooled).squeeze(-1)


@dataclass
class ScorerConfig:
    """Training of one ORM or PRM. Defaults sized for a laptop CPU (seconds)."""

    kind: str = "prm"
    """``"prm"``: a label per step up to the first wrong one; ``"orm"``: one label, the final answer's."""
    epochs: int = 10
    """Passes over the solutions."""
    batch_size: int = 128
    lr: float = 2e-3
    """Adam's learning rate."""
    hidden: int = 128
    seed: int = 0


@dataclass
class ScorerHistory:
    loss: list[float] = field(default_factory=list)
    labels: int = 0
    """Labels the training used (steps for a PRM, solutions for an ORM)."""


def step_labels(solutions: list[Solution], first_error_labels) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, S) labels (1 right, 0 wrong) and (B, S) weights (1 where a label exists), via ``first_error_labels``."""
    correct = torch.zeros(len(solutions), MAX_STEPS, dtype=torch.bool)
    mask = torch.zeros(len(solutions), MAX_STEPS)
    for b, sol in enumerate(solutions):
        verdicts = step_correct(sol)
        correct[b, :len(verdicts)] = torch.tensor(verdicts)
        mask[b, :len(verdicts)] = 1.0
    labels = torch.as_tensor(first_error_labels(correct, mask))
    return labels.clamp(min=0).float(), (labels >= 0).float()


def train_scorer(solutions: list[Solution], config: ScorerConfig, first_error_labels=None) -> tuple[StepScorer, ScorerHistory]:
    """An ORM or a PRM trained with binary cross-entropy on ``solutions`` (``first_error_labels``: default
    the reference of Chapter 7)."""
    if first_error_labels is None:
        from rlcourse.reference.ch07_beyond_rlhf import first_error_labels
    torch.manual_seed(config.seed)
    features, mask = encode(solutions)
    if config.kind == "prm":
        labels, weights = step_labels(solutions, first_error_labels)
    elif config.kind == "orm":
        labels = torch.tensor([float(final_correct(s)) for s in solutions])
        weights = torch.ones(len(solutions))
    else:
        raise ValueError(f"kind must be 'prm' or 'orm', not {config.kind!r}")
    model = StepScorer(features.shape[-1], config.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    history = ScorerHistory(labels=int(weights.sum()))
    for _ in range(config.epochs):
        order = torch.randperm(len(solutions), generator=gen)
        for i in range(0, len(order), config.batch_size):
            idx = order[i:i + config.batch_size]
            step_logits, solution_logits = model(features[idx], mask[idx])
            logits = step_logits if config.kind == "prm" else solution_logits
            loss = nn.functional.binary_cross_entropy_with_logits(logits, labels[idx], weight=weights[idx],
                                                                  reduction="sum") / weights[idx].sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.loss.append(loss.item())
    return model.eval(), history


@torch.no_grad()
def step_probabilities(model: StepScorer, solutions: list[Solution]) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, S) the PRM's probability that each step is right, and the (B, S) step mask."""
    features, mask = encode(solutions)
    step_logits, _ = model(features, mask)
    return torch.sigmoid(step_logits) * mask, mask


@torch.no_grad()
def outcome_probabilities(model: StepScorer, solutions: list[Solution]) -> torch.Tensor:
    """(B,) the ORM's probability that the final answer is right."""
    features, mask = encode(solutions)
    return torch.sigmoid(model(features, mask)[1])


def sample_pool(problem_list: list[tuple[int, ...]], n: int, solver: Solver, seed: int) -> list[Solution]:
    """``n`` solutions of every problem, problem after problem."""
    rng = np.random.default_rng(seed)
    return [solve(p, solver, rng) for p in problem_list for _ in range(n)]


def selection_curves(scores: dict[str, torch.Tensor], answers: torch.Tensor, right: torch.Tensor, ns: list[int],
                     seed: int, draws: int = 20) -> dict[str, list[float]]:
    """Best-of-N accuracy against N for every scorer, majority voting, and the ceiling (pass@N).

    As Lightman et al. (2023) do, each point averages over random subsets of N solutions drawn from a
    larger pool per problem (``draws`` subsets; one when N is the whole pool).

    Args:
        scores: name -> (P, M) scores of the pool's ``M`` solutions per problem (higher is better).
        answers: (P, M) final answers; right: (P,) the right answers.
        ns: the values of N (each at most M).

    Returns:
        name -> accuracy at each N, with ``"majority"`` and ``"pass@N"`` (some solution is right) added.
    """
    from rlcourse.reference.ch07_beyond_rlhf import best_of_n, majority_vote

    P, M = answers.shape
    gen = torch.Generator().manual_seed(seed)
    curves = {name: [] for name in [*scores, "majority", "pass@N"]}
    for n in ns:
        sums = dict.fromkeys(curves, 0.0)
        repeats = 1 if n == M else draws
        for _ in range(repeats):
            idx = torch.argsort(torch.rand(P, M, generator=gen), dim=1)[:, :n]  # (P, n) a random subset per problem
            chosen = answers.gather(1, idx)
            for name, s in scores.items():
                sums[name] += (best_of_n(s.gather(1, idx), chosen) == right).float().mean().item()
            sums["majority"] += (majority_vote(chosen) == right).float().mean().item()
            sums["pass@N"] += (chosen == right[:, None]).any(dim=1).float().mean().item()
        for name in curves:
            curves[name].append(sums[name] / repeats)
    return curves
