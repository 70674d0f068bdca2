"""Attention over a source sentence's encoder states: where the decoder looks at each target step.

    memory  (B, S, F)   the encoder's state at every source token; mask (B, S) True at real tokens
    query   (B, T, H)   decoder states (T target steps at once) or (B, H) one step
    ->  context (B, T, F) = sum_j a_tj memory_j,   weights a (B, T, S), each row a softmax over j

Two scores, as the papers define them:

- `AdditiveAttention` (Bahdanau et al. 2015): e_tj = v^T tanh(W q_t + U m_j). In Bahdanau's
  decoder the query is the *previous* state s_{t-1} and the context enters the RNN's input, so
  training runs the decoder step by step.
- `BilinearAttention` (Luong et al. 2015, "general"): e_tj = q_t^T W m_j. The query is the
  current state h_t and the context is combined after the RNN, h~_t = tanh(W_c [h_t; c_t]), so
  the whole teacher-forced target runs through one fused RNN call and the attention is a batched
  matrix product. Chosen with ``attention=dot``.

Both precompute what depends on the memory alone (`keys`) once per sentence, not per step.
Padding never receives weight (its score is -inf before the softmax).
"""

from __future__ import annotations

import torch
from torch import nn


def _attend(scores: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor):
    """scores (B, T, S) -> (context (B, T, F), weights (B, T, S)), padding masked out."""
    weights = torch.softmax(scores.masked_fill(~mask[:, None, :], float("-inf")), dim=-1)  # (B, T, S)
    return torch.bmm(weights, memory), weights


class BilinearAttention(nn.Module):
    """Luong's "general" score q^T W m (a plain dot product when W is the identity)."""

    def __init__(self, query_dim: int, memory_dim: int):
        super().__init__()
        self.proj = nn.Linear(memory_dim, query_dim, bias=False)

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """W m_j for every source position: (B, S, F) -> (B, S, H)."""
        return self.proj(memory)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor):
        """query (B, T, H) or (B, H) -> (context, weights), with T dropped for a single step."""
        single = query.dim() == 2
        q = query[:, None, :] if single else query  # (B, T, H)
        context, weights = _attend(torch.bmm(q, keys.transpose(1, 2)), memory, mask)  # (B, T, F), (B, T, S)
        return (context[:, 0], weights[:, 0]) if single else (context, weights)


class AdditiveAttention(nn.Module):
    """Bahdanau's score v^T tanh(W q + U m)."""

    def __init__(self, query_dim: int, memory_dim: int, attention_dim: int | None = None):
        super().__init__()
        attention_dim = attention_dim or query_dim
        self.memory_proj = nn.Linear(memory_dim, attention_dim, bias=False)
        self.query_proj = nn.Linear(query_dim, attention_dim)
        self.v = nn.Linear(attention_dim, 1, bias=False)

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """U m_j for every source position: (B, S, F) -> (B, S, A)."""
        return self.memory_proj(memory)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor):
        """query (B, T, H) or (B, H) -> (context, weights), with T dropped for a single step."""
        single = query.dim() == 2
        q = self.query_proj(query[:, None, :] if single else query)  # (B, T, A)
        scores = self.v(torch.tanh(q[:, :, None, :] + keys[:, None, :, :]))[..., 0]  # (B, T, S)
        context, weights = _attend(scores, memory, mask)
        return (context[:, 0], weights[:, 0]) if single else (context, weights)


ATTENTION = {"additive": AdditiveAttention, "dot": BilinearAttention}
