"""Affinity propagation (Frey & Dueck, Science 2007) in numpy, for FASA's grouping of classes.

FASA clusters the classes by their mean RoI features; scikit-learn is not part of the kit's
stack, and the algorithm is a few lines of message passing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass
class APResult:
    labels: np.ndarray      # (n,) cluster index of every point, 0..k-1
    exemplars: np.ndarray   # (k,) index of each cluster's exemplar
    converged: bool         # False: the exemplars of the last iteration were used
    iterations: int


def affinity_propagation(similarity, preference: Optional[float] = None, damping: float = 0.5,
                         max_iter: int = 200, convergence_iter: int = 15,
                         seed: int = 0) -> APResult:
    """Cluster ``n`` points given an (n, n) similarity matrix (larger = more alike; FASA uses
    negative squared distances).

    ``preference`` (the diagonal; lower gives fewer clusters) defaults to the median of the
    off-diagonal similarities. A tiny deterministic jitter (``seed``) breaks ties, as in
    scikit-learn, so every process of a distributed run gets the same clusters. If the
    exemplars have not been stable for ``convergence_iter`` iterations by ``max_iter``, the
    last iteration's exemplars are used (``converged=False``) rather than dropping the
    clustering; with no exemplar at all every point is its own cluster.
    """
    S = np.array(similarity, dtype=np.float64, copy=True)
    if S.ndim != 2 or S.shape[0] != S.shape[1]:
        raise ValueError('affinity_propagation needs a square similarity matrix, got shape '
                         f'{S.shape}')
    if not 0.5 <= damping < 1.0:
        raise ValueError(f'damping must be in [0.5, 1), got {damping}')
    if not np.isfinite(S).all():
        raise ValueError('affinity_propagation: the similarity matrix has NaN or inf entries')
    n = S.shape[0]
    if n <= 1:
        return APResult(np.zeros(n, dtype=np.int64), np.arange(n), True, 0)
    off_diagonal = ~np.eye(n, dtype=bool)
    if preference is None:
        preference = float(np.median(S[off_diagonal]))
    S.flat[::n + 1] = preference

    # All points alike: message passing has no information; decide as the objective does.
    first = S[0, 1]
    if np.all(S[off_diagonal] == first):
        if preference > first:
            return APResult(np.arange(n), np.arange(n), True, 0)
        return APResult(np.zeros(n, dtype=np.int64), np.array([0]), True, 0)

    rng = np.random.RandomState(seed)
    S += (np.finfo(np.float64).eps * S + np.finfo(np.float64).tiny * 100) * \
        rng.standard_normal(size=(n, n))

    R = np.zeros((n, n))  # responsibilities r(i, k)
    A = np.zeros((n, n))  # availabilities a(i, k)
    rows = np.arange(n)
    history = np.zeros((n, convergence_iter), dtype=bool)
    converged = False
    it = 0
    for it in range(max_iter):
        # r(i,k) = s(i,k) - max_{k' != k} (a(i,k') + s(i,k'))
        AS = A + S
        best = np.argmax(AS, axis=1)
        best_value = AS[rows, best]
        AS[rows, best] = -np.inf
        second_value = AS.max(axis=1)
        R_new = S - best_value[:, None]
        R_new[rows, best] = S[rows, best] - second_value
        R = damping * R + (1 - damping) * R_new

        # a(i,k) = min(0, r(k,k) + sum_{i' not in {i,k}} max(0, r(i',k))),
        # a(k,k) = sum_{i' != k} max(0, r(i',k))
        Rp = np.maximum(R, 0)
        Rp.flat[::n + 1] = R.flat[::n + 1]
        A_new = Rp.sum(axis=0)[None, :] - Rp
        self_availability = A_new.diagonal().copy()
        A_new = np.minimum(A_new, 0)
        A_new.flat[::n + 1] = self_availability
        A = damping * A + (1 - damping) * A_new

        is_exemplar = (np.diag(A) + np.diag(R)) > 0
        history[:, it % convergence_iter] = is_exemplar
        if it + 1 >= convergence_iter:
            stable = history.sum(axis=1)
            if np.all((stable == convergence_iter) | (stable == 0)) and is_exemplar.any():
                converged = True
                break

    exemplars = np.flatnonzero((np.diag(A) + np.diag(R)) > 0)
    if exemplars.size == 0:
        return APResult(np.arange(n), np.arange(n), False, it + 1)
    labels = _assign(S, exemplars)
    # Refine: each cluster's exemplar becomes the member most similar to the others.
    for k in range(exemplars.size):
        members = np.flatnonzero(labels == k)
        exemplars[k] = members[np.argmax(S[np.ix_(members, members)].sum(axis=0))]
    labels = _assign(S, exemplars)
    return APResult(labels, exemplars, converged, it + 1)


def _assign(S: np.ndarray, exemplars: np.ndarray) -> np.ndarray:
    labels = np.argmax(S[:, exemplars], axis=1)
    labels[exemplars] = np.arange(exemplars.size)
    return labels
