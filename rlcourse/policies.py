"""Softmax policies as small torch modules, storable in exercise checks (``to_spec`` / ``from_spec``)."""

from __future__ import annotations

import torch
from torch import nn


class MLPPolicy(nn.Module):
    """A categorical (softmax) policy: an MLP from observations to action logits.

    With ``discrete_obs=True`` the observation is a state index, fed as a one-hot vector of size
    ``obs_dim``; with no hidden layer that is exactly a table of logits ``theta[s, a]``.

    Args:
        obs_dim: size of an observation vector (or the number of states, with ``discrete_obs``).
        n_actions: number of actions A.
        hidden: widths of the hidden layers (tanh); ``()`` for a linear policy.
        discrete_obs: observations are integer state indices.
        seed: seed of the initial weights (a local generator; the global RNG is untouched).

    Example:
        >>> policy = MLPPolicy(obs_dim=4, n_actions=2, hidden=(32,), seed=0)
        >>> policy(torch.zeros(5, 4)).shape
        torch.Size([5, 2])
    """

    def __init__(self, obs_dim: int, n_actions: int, hidden: tuple[int, ...] = (32,), discrete_obs: bool = False,
                 seed: int = 0):
        super().__init__()
        self.obs_dim, self.n_actions, self.hidden, self.discrete_obs = obs_dim, n_actions, tuple(hidden), discrete_obs
        sizes = [obs_dim, *self.hidden, n_actions]
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for layer in self.net:
                if isinstance(layer, nn.Linear):  # PyTorch's default init, drawn from the local generator
                    bound = layer.in_features ** -0.5
                    layer.weight.uniform_(-bound, bound, generator=gen)
                    layer.bias.uniform_(-bound, bound, generator=gen)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """(M, obs_dim) float observations, or (M,) state indices -> (M, A) logits."""
        if self.discrete_obs:
            obs = nn.functional.one_hot(obs.long(), self.obs_dim).float()  # (M, S)
        return self.net(obs)

    def __repr__(self) -> str:  # one line (nn.Module prints every layer), as exercise checks quote it
        return (f"MLPPolicy(obs_dim={self.obs_dim}, n_actions={self.n_actions}, hidden={self.hidden}, "
                f"discrete_obs={self.discrete_obs})")

    @torch.no_grad()
    def probs(self, obs: torch.Tensor) -> torch.Tensor:
        """(M, A) action probabilities ``pi(a | s)``."""
        return torch.softmax(self(obs), dim=-1)

    def to_spec(self) -> dict:
        state = {k: v.tolist() for k, v in self.state_dict().items()}
        return {"obs_dim": self.obs_dim, "n_actions": self.n_actions, "hidden": list(self.hidden),
                "discrete_obs": self.discrete_obs, "state": state}

    @classmethod
    def from_spec(cls, spec: dict) -> "MLPPolicy":
        policy = cls(spec["obs_dim"], spec["n_actions"], tuple(spec["hidden"]), spec["discrete_obs"])
        policy.load_state_dict({k: torch.tensor(v, dtype=torch.float32) for k, v in spec["state"].items()})
        return policy
