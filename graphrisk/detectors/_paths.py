"""Temporal path kernels on integer edge arrays (numpy and scipy only, no Python loop per edge).

The transfer detectors hand these kernels plain arrays: ``src``, ``dst`` (dense node ids),
``t`` (float days, edges sorted by time so that an edge's index is its time order) and
boolean edge classes. Two kernels:

* :func:`window_scc_edges` keeps only the edges that can lie on a cycle whose transfers all
  fall inside one window of ``window`` days: every edge is copied into the two overlapping
  layers ``[kW, (k+2)W)`` that contain it, strongly connected components are computed once
  over all layers (:func:`scipy.sparse.csgraph.connected_components`), and an edge survives
  when its two ends share a component in one of its layers. Any cycle with span ``<= W``
  lies inside one layer, so nothing that matters is dropped.
* :func:`window_cycles` enumerates simple cycles breadth first, all partial paths of one
  length at a time as arrays (one ``searchsorted`` + ``repeat`` per step). A cycle must
  start from a *fresh* edge, and the start is its smallest fresh edge index, so each cycle
  (as a sequence of transfers) is found exactly once. Work is bounded by ``max_len``,
  ``max_branch`` (out-edges followed per path and step), ``max_old`` (non-fresh hops) and a
  budget per start edge (``max_paths_per_start`` partial paths, ``max_cycles_per_start``
  cycles), so a dense burst cannot starve the search elsewhere; ``max_paths`` bounds the
  memory (start edges are searched in batches). Every cut is reported per cycle.

Examples
--------
>>> import numpy as np
>>> src = np.array([0, 1, 2, 3]); dst = np.array([1, 2, 0, 4]); t = np.array([0.0, 1, 2, 3])
>>> window_scc_edges(src, dst, t, 5, 5.0).tolist()
[True, True, True, False]
>>> cyc = window_cycles(src, dst, t, np.ones(4, bool), window=5.0, max_len=6)
>>> cyc.edges.tolist(), cyc.length.tolist()
([[0, 1, 2, -1, -1, -1]], [3])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components


def window_scc_edges(
    src: np.ndarray, dst: np.ndarray, t: np.ndarray, n_nodes: int, window: float
) -> np.ndarray:
    """Mask of edges that lie in a strongly connected component of a ``2 * window`` layer."""
    m = src.size
    if m == 0:
        return np.zeros(0, dtype=bool)
    src = src.astype(np.int64)
    dst = dst.astype(np.int64)
    layer = np.floor((t - t.min()) / window).astype(np.int64)
    lay = np.concatenate([layer, layer - 1])
    s2 = lay * n_nodes + np.concatenate([src, src])
    d2 = lay * n_nodes + np.concatenate([dst, dst])
    uniq, inv = np.unique(np.concatenate([s2, d2]), return_inverse=True)
    si, di = inv[: 2 * m], inv[2 * m :]
    mat = sp.csr_matrix((np.ones(2 * m, dtype=np.int8), (si, di)), shape=(uniq.size, uniq.size))
    _, lab = connected_components(mat, directed=True, connection="strong")
    ok = lab[si] == lab[di]
    keep = np.zeros(m, dtype=bool)
    keep[np.concatenate([np.arange(m), np.arange(m)])[ok]] = True
    return keep


@dataclass
class Cycles:
    """Cycles found: ``edges`` (n x max_len edge indices, ``-1`` padded) and ``length``.

    ``capped`` (one per cycle) is true when a work cap cut the search from the cycle's start
    edge (``max_branch``, ``max_paths_per_start`` or ``max_cycles_per_start``), so other
    cycles through that edge may exist; ``truncated`` is true when any cap fired.
    """

    edges: np.ndarray
    length: np.ndarray
    truncated: bool = False
    capped: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.capped is None:
            self.capped = np.zeros(self.length.size, dtype=bool)


class _Adjacency:
    """Edges sorted by (src, t) with a float key for range look-ups by time."""

    def __init__(self, idx: np.ndarray, src: np.ndarray, t: np.ndarray, span: float) -> None:
        order = np.lexsort((idx, t[idx], src[idx]))
        self.edge = idx[order]
        self.scale = span + 1.0
        self.key = src[self.edge].astype(np.float64) * self.scale + t[self.edge]

    def expand(
        self, tail: np.ndarray, lo_t: np.ndarray, hi_t: np.ndarray, cap: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(path row, edge) for up to ``cap`` out-edges of each tail with ``lo_t <= t <= hi_t``,
        and per tail whether ``cap`` cut its out-edges."""
        base = tail.astype(np.float64) * self.scale
        lo = np.searchsorted(self.key, base + lo_t, side="left")
        hi = np.searchsorted(self.key, base + hi_t, side="right")
        cnt = np.minimum(hi - lo, cap)
        total = int(cnt.sum())
        rows = np.repeat(np.arange(tail.size), cnt)
        off = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        return rows, self.edge[np.repeat(lo, cnt) + off], (hi - lo) > cap


def _rank_within(group: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """Rank of each row inside its ``group``, ordered by ``keys`` (first key most important).

    Keys are non-negative integers (or booleans). They are packed with the group into one
    int64 sort key when they fit (one argsort instead of a multi-key lexsort).
    """
    if group.size == 0:
        return np.zeros(0, dtype=np.int64)
    cols = [group.astype(np.int64), *(k.astype(np.int64) for k in keys)]
    sizes = [int(c.max()) + 1 for c in cols]
    if float(np.prod([float(x) for x in sizes])) < 2.0**62:
        packed = cols[0]
        for c, n in zip(cols[1:], sizes[1:], strict=True):
            packed = packed * n + c
        order = np.argsort(packed, kind="stable")
    else:
        order = np.lexsort(tuple(reversed(cols)))
    g = group[order]
    new = np.ones(g.size, dtype=bool)
    new[1:] = g[1:] != g[:-1]
    first = np.maximum.accumulate(np.where(new, np.arange(g.size), 0))
    rank = np.empty(g.size, dtype=np.int64)
    rank[order] = np.arange(g.size) - first
    return rank


def _over_budget(group: np.ndarray, budget: np.ndarray | int, *keys: np.ndarray) -> np.ndarray:
    """Mask of rows beyond the first ``budget`` of their ``group`` in ``keys`` order.

    Only the groups with more rows than their budget are ranked (most groups are not).
    """
    out = np.zeros(group.size, dtype=bool)
    if group.size == 0:
        return out
    n = int(group.max()) + 1
    if isinstance(budget, np.ndarray):
        n = max(n, budget.size)
    limit = np.broadcast_to(budget, (n,))
    crowded = np.bincount(group, minlength=n) > limit
    rows = np.flatnonzero(crowded[group])
    if rows.size:
        rank = _rank_within(group[rows], *(k[rows] for k in keys))
        out[rows] = rank >= limit[group[rows]]
    return out


def window_cycles(
    src: np.ndarray,
    dst: np.ndarray,
    t: np.ndarray,
    fresh: np.ndarray,
    *,
    window: float,
    max_len: int = 12,
    max_old: int = 0,
    max_branch: int = 8,
    max_old_branch: int = 4,
    max_paths: int = 500_000,
    max_paths_per_start: int = 32,
    max_cycles_per_start: int = 2,
    search: np.ndarray | None = None,
    prev_t: np.ndarray | None = None,
    next_t: np.ndarray | None = None,
    amount: np.ndarray | None = None,
    amount_tolerance: float = 0.1,
) -> Cycles:
    """Simple cycles of 2..``max_len`` edges whose times all fit in ``window`` days.

    Every start edge has its own budget, so a dense burst somewhere in the data can neither
    exhaust the work nor hide loops elsewhere: at most ``max_paths_per_start`` partial paths
    and ``max_cycles_per_start`` cycles per start edge. Start edges are searched in batches of
    ``max_paths // max_paths_per_start``, which bounds memory. When a budget cuts, the paths
    kept are the ones that look most like money passed on: the next transfer after the
    previous one (time-respecting), then (with ``amount``) an amount within
    ``amount_tolerance`` of the previous hop's, then the earliest.

    Parameters
    ----------
    src, dst, t
        Edge ends and times (days); edges sorted by ``t`` (index = time order).
    fresh
        Edges a cycle may start from; every cycle contains at least one.
    window
        Largest allowed ``max(t) - min(t)`` over the cycle's edges.
    max_len
        Longest cycle, in edges.
    max_old
        Most non-fresh edges on one cycle.
    max_branch, max_old_branch
        Fresh / non-fresh out-edges followed per partial path and step (earliest first).
    max_paths
        Partial paths alive at once (bounds memory: start edges are searched in batches).
    max_paths_per_start, max_cycles_per_start
        Work budget of one start edge: partial paths kept per step, cycles kept in all.
    search
        Optional mask of edges the search may use at all (e.g. :func:`window_scc_edges`).
    prev_t, next_t
        Optional times of the previous / next edge of the same (src, dst) pair (``-inf`` /
        ``inf`` if none). When given, a fresh edge must be its pair's only edge inside the
        cycle's time span: paths whose span reaches such a neighbour are dropped early.
    amount, amount_tolerance
        Optional edge amounts: paths that pass on a close amount are kept first.
    """
    m = src.size
    usable = np.ones(m, dtype=bool) if search is None else search.astype(bool)
    fresh = fresh.astype(bool) & usable
    old = usable & ~fresh
    src = src.astype(np.int64)
    dst = dst.astype(np.int64)
    t = t.astype(np.float64)
    empty = Cycles(np.zeros((0, max_len), dtype=np.int64), np.zeros(0, dtype=np.int64))
    start = np.flatnonzero(fresh)
    if start.size == 0:
        return empty
    t0 = t.min()
    t = t - t0
    span = float(t.max()) + 2 * window + 1
    if prev_t is None or next_t is None:
        prev_t = np.full(m, -np.inf)
        next_t = np.full(m, np.inf)
    else:
        prev_t = np.where(fresh, prev_t - t0, -np.inf)
        next_t = np.where(fresh, next_t - t0, np.inf)
    amt = None if amount is None else np.asarray(amount, dtype=np.float64)
    k = _Kernel(
        src,
        dst,
        t,
        fresh,
        prev_t,
        next_t,
        amt,
        amount_tolerance,
        _Adjacency(start, src, t, span),
        _Adjacency(np.flatnonzero(old), src, t, span) if max_old > 0 and old.any() else None,
        window,
        max_len,
        max_old,
        max_branch,
        max_old_branch,
        max_paths_per_start,
        max_cycles_per_start,
    )
    batch = max(1, max_paths // max_paths_per_start)
    parts = [k.search(start[i : i + batch]) for i in range(0, start.size, batch)]
    parts = [c for c in parts if c.length.size] or [empty]
    return Cycles(
        np.concatenate([c.edges for c in parts]),
        np.concatenate([c.length for c in parts]),
        any(c.truncated for c in parts),
        np.concatenate([c.capped for c in parts]),  # type: ignore[misc]
    )


@dataclass
class _Kernel:
    """The breadth-first search of :func:`window_cycles` over one batch of start edges."""

    src: np.ndarray
    dst: np.ndarray
    t: np.ndarray
    fresh: np.ndarray
    prev_t: np.ndarray
    next_t: np.ndarray
    amount: np.ndarray | None
    tolerance: float
    adj_fresh: _Adjacency
    adj_old: _Adjacency | None
    window: float
    max_len: int
    max_old: int
    max_branch: int
    max_old_branch: int
    per_start: int
    cycles_per_start: int

    def _priority(self, last: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, ...]:
        """Sort keys (smaller first): not time-respecting, amount not close, later edge."""
        keys = [(e < last).astype(np.int8)]
        if self.amount is not None:
            prev = self.amount[last]
            close = np.abs(self.amount[e] / np.where(prev == 0, np.nan, prev) - 1)
            keys.append(~(close <= self.tolerance))
        keys.append(e)
        return tuple(keys)

    def search(self, start: np.ndarray) -> Cycles:
        src, dst, t, max_len = self.src, self.dst, self.t, self.max_len
        n_start = start.size
        capped = np.zeros(n_start, dtype=bool)
        n_found = np.zeros(n_start, dtype=np.int64)
        sid = np.arange(n_start)
        path_e = np.full((n_start, max_len), -1, dtype=np.int64)
        path_e[:, 0] = start
        path_n = np.full((n_start, max_len + 1), -1, dtype=np.int64)
        path_n[:, 0] = src[start]
        path_n[:, 1] = dst[start]
        first = start
        tmin = t[start]
        tmax = t[start]
        n_old = np.zeros(n_start, dtype=np.int64)
        lo_bound = self.prev_t[start]  # the span must stay strictly inside (lo_bound, hi_bound)
        hi_bound = self.next_t[start]
        found_e: list[np.ndarray] = []
        found_len: list[np.ndarray] = []
        found_sid: list[np.ndarray] = []
        for depth in range(1, max_len):
            if first.size == 0:
                break
            tail = path_n[:, depth]
            lo_t, hi_t = tmax - self.window, tmin + self.window
            rows, e, over = self.adj_fresh.expand(tail, lo_t, hi_t, self.max_branch)
            capped[sid[over]] = True
            ok = e > first[rows]
            if self.adj_old is not None:
                can = np.flatnonzero(n_old < self.max_old)
                r2, e2, over2 = self.adj_old.expand(
                    tail[can], lo_t[can], hi_t[can], self.max_old_branch
                )
                capped[sid[can[over2]]] = True
                rows = np.concatenate([rows[ok], can[r2]])
                e = np.concatenate([e[ok], e2])
                ok = np.ones(rows.size, dtype=bool)
            rows, e = rows[ok], e[ok]
            new_lo = np.maximum(lo_bound[rows], self.prev_t[e])
            new_hi = np.minimum(hi_bound[rows], self.next_t[e])
            ok = (np.minimum(tmin[rows], t[e]) > new_lo) & (np.maximum(tmax[rows], t[e]) < new_hi)
            rows, e, new_lo, new_hi = rows[ok], e[ok], new_lo[ok], new_hi[ok]
            d = dst[e]
            s = sid[rows]
            keys = self._priority(path_e[rows, depth - 1], e)
            closes = d == path_n[rows, 0]
            if closes.any():
                c = np.flatnonzero(closes)
                left = np.maximum(self.cycles_per_start - n_found, 0)
                drop = _over_budget(s[c], left, *(k[c] for k in keys))
                capped[s[c][drop]] = True
                c = c[~drop]
                np.add.at(n_found, s[c], 1)
                fe = path_e[rows[c]].copy()
                fe[:, depth] = e[c]
                found_e.append(fe)
                found_len.append(np.full(c.size, depth + 1, dtype=np.int64))
                found_sid.append(s[c])
            seen = (path_n[rows, : depth + 1] == d[:, None]).any(axis=1)
            go = np.flatnonzero(~seen) if depth + 1 < max_len else np.zeros(0, dtype=np.int64)
            over_budget = _over_budget(s[go], self.per_start, *(k[go] for k in keys))
            capped[s[go][over_budget]] = True
            go = go[~over_budget]
            rows, e, new_lo, new_hi = rows[go], e[go], new_lo[go], new_hi[go]
            lo_bound, hi_bound = new_lo, new_hi
            path_e = path_e[rows]
            path_e[:, depth] = e
            path_n = path_n[rows]
            path_n[:, depth + 1] = dst[e]
            first = first[rows]
            sid = sid[rows]
            tmin = np.minimum(tmin[rows], t[e])
            tmax = np.maximum(tmax[rows], t[e])
            n_old = n_old[rows] + (~self.fresh[e]).astype(np.int64)
        if not found_e:
            return Cycles(
                np.zeros((0, max_len), dtype=np.int64), np.zeros(0, dtype=np.int64), capped.any()
            )
        fs = np.concatenate(found_sid)
        return Cycles(
            np.concatenate(found_e), np.concatenate(found_len), bool(capped.any()), capped[fs]
        )
