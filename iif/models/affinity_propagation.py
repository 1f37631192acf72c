"""Affinity propagation (Frey & Dueck, Science 2007) in numpy, for FASA's grouping of classes.

The research code groups classes with scikit-learn's ``AffinityPropagation(affinity=
'precomputed', random_state=1)``. scikit-learn is not part of the kit's stack, so this module
runs the same algorithm with the same numerics: the similarity matrix keeps its floating dtype
(the research passes float32), the default preference is the median of the WHOLE matrix, the
tie-breaking noise is scaled by that dtype's eps and tiny and drawn from
``numpy.random.RandomState(random_state)``, convergence is tested from the iteration after
``convergence_iter`` on, and the clusters are numbered in the order of their exemplars.
Compared with scikit-learn 1.7.2 on 600 random matrices: identical labels, exemplars and
iteration counts (docs/fasa.md); tests/test_fasa.py keeps scikit-learn's result for one matrix.

One behaviour differs between scikit-learn releases: when the messages have not settled after
``max_iter`` iterations, 0.23-1.0 return no clusters (every label -1), 1.1 and later return
the last exemplars' clusters. This function returns the latter with ``converged=False``; the
caller chooses (see ``unconverged`` in :mod:`iif.models.fasa`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass
class APResult:
    labels: np.ndarray      # (n,) cluster of every point, 0..k-1; -1 everywhere if k == 0
    exemplars: np.ndarray   # (k,) index of each cluster's exemplar, ascending
    converged: bool         # False: the exemplars had not settled by max_iter
    iterations: int


def affinity_propagation(similarity, preference=None, damping: float = 0.5,
                         max_iter: int = 200, convergence_iter: int = 15,
                         random_state: Optional[int] = 0) -> APResult:
    """Cluster ``n`` points given an (n, n) similarity matrix (larger = more alike).

    ``preference`` (the diagonal: a scalar or one value per point; lower gives fewer
    clusters) defaults to the median of the whole matrix, diagonal included, as
    scikit-learn's. ``random_state`` seeds the tie-breaking noise (scikit-learn's
    ``random_state``; FASA's research code uses 1).
    """
    S = np.array(similarity, copy=True)
    if not np.issubdtype(S.dtype, np.floating):
        S = S.astype(np.float64)
    if S.ndim != 2 or S.shape[0] != S.shape[1]:
        raise ValueError(f'affinity_propagation needs a square similarity matrix, got shape '
                         f'{S.shape}')
    if not 0.5 <= damping < 1.0:
        raise ValueError(f'damping must be in [0.5, 1), got {damping}')
    if not np.isfinite(S).all():
        raise ValueError('affinity_propagation: the similarity matrix has NaN or inf entries')
    n = S.shape[0]
    if preference is None:
        preference = np.median(S)
    preference = np.asarray(preference)

    off_diagonal = ~np.eye(n, dtype=bool)
    if n == 1 or (np.all(preference == preference.flat[0])
                  and np.all(S[off_diagonal] == S[off_diagonal].flat[0])):
        # Nothing to pass messages about: one cluster, or every point its own.
        if preference.flat[0] > S.flat[n - 1]:
            return APResult(np.arange(n), np.arange(n), True, 0)
        return APResult(np.zeros(n, dtype=np.int64), np.array([0]), True, 0)

    rng = np.random.RandomState(random_state)
    S.flat[::n + 1] = preference
    info = np.finfo(S.dtype)
    noise = rng.standard_normal(size=(n, n))
    S += (info.eps * S + info.tiny * 100) * noise  # in place: S keeps its dtype

    R = np.zeros((n, n))  # responsibilities r(i, k)
    A = np.zeros((n, n))  # availabilities a(i, k)
    rows = np.arange(n)
    history = np.zeros((n, convergence_iter))
    converged = False
    it = 0
    for it in range(max_iter):
        # r(i,k) = s(i,k) - max_{k' != k} (a(i,k') + s(i,k'))
        AS = A + S
        best = np.argmax(AS, axis=1)
        best_value = AS[rows, best]
        AS[rows, best] = -np.inf
        second_value = np.max(AS, axis=1)
        R_new = S - best_value[:, None]
        R_new[rows, best] = S[rows, best] - second_value
        R = R * damping + R_new * (1 - damping)

        # a(i,k) = min(0, r(k,k) + sum_{i' not in {i,k}} max(0, r(i',k))),
        # a(k,k) = sum_{i' != k} max(0, r(i',k))
        Rp = np.maximum(R, 0)
        Rp.flat[::n + 1] = R.flat[::n + 1]
        minus_A_new = Rp - np.sum(Rp, axis=0)
        self_term = np.diag(minus_A_new).copy()
        minus_A_new = np.clip(minus_A_new, 0, np.inf)
        minus_A_new.flat[::n + 1] = self_term
        A = A * damping - minus_A_new * (1 - damping)

        is_exemplar = (np.diag(A) + np.diag(R)) > 0
        history[:, it % convergence_iter] = is_exemplar
        if it >= convergence_iter:
            stable = np.sum(history, axis=1)
            if np.all((stable == convergence_iter) | (stable == 0)) and is_exemplar.any():
                converged = True
                break

    exemplars = np.flatnonzero(is_exemplar)
    if exemplars.size == 0:
        return APResult(np.full(n, -1, dtype=np.int64), exemplars, False, it + 1)
    members_of = _assign(S, exemplars)
    # Refine: each cluster's exemplar becomes the member most similar to its other members.
    for k in range(exemplars.size):
        members = np.flatnonzero(members_of == k)
        exemplars[k] = members[np.argmax(np.sum(S[np.ix_(members, members)], axis=0))]
    exemplar_of = exemplars[_assign(S, exemplars)]
    ordered = np.unique(exemplar_of)
    return APResult(np.searchsorted(ordered, exemplar_of), ordered, converged, it + 1)


def _assign(S: np.ndarray, exemplars: np.ndarray) -> np.ndarray:
    """Index (into ``exemplars``) of every point's most similar exemplar; exemplars own
    themselves."""
    nearest = np.argmax(S[:, exemplars], axis=1)
    nearest[exemplars] = np.arange(exemplars.size)
    return nearest
