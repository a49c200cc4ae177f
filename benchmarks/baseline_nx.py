"""A networkx baseline: graphrisk's detectors written the obvious way. A yardstick, not a product.

This module is what most projects start from, kept on purpose for the benchmark: one
``nx.MultiDiGraph`` built row by row from the tables (accounts, lenders and devices as nodes;
loans, applications, logins and transfers as edges), then per-account Python loops over the
graph's neighbours and edges, ``nx.simple_cycles`` with a length bound on windowed transfer
subgraphs, connected components and ``nx.community.louvain_communities`` for groups, and
PageRank for proximity. Thresholds are the graphrisk detectors' defaults (read from
``REGISTRY[name]().get_params()``), so both sides look for the same patterns with the same
numbers. The rules are simplified where the obvious way simplifies them (see each function);
the flags are close to graphrisk's, not identical, and nothing here is used by graphrisk.

Load and context (the lookback cut, ``as_of``) reuse :func:`graphrisk.load` and
:class:`graphrisk.ScanContext`, so both sides read exactly the same rows and those two stages
cost the same. Every other stage (``graph``, ``detector:NAME``) is the baseline's own.

Run on its own::

    python -m benchmarks.baseline_nx DATA_DIR [--progress FILE.jsonl]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import networkx as nx

import graphrisk
from graphrisk.context import ScanContext
from graphrisk.detectors import REGISTRY
from graphrisk.scan import peak_rss_mb

Flag = tuple[str, str, int]  # (account_id, code, severity)


def params(name: str) -> dict[str, Any]:
    """The default parameters of graphrisk detector ``name``."""
    return REGISTRY[name]().get_params()


@dataclass
class Baseline:
    """The graph and the context; every detector is a method ``det_NAME`` returning flags."""

    ctx: ScanContext
    g: nx.MultiDiGraph = field(default_factory=nx.MultiDiGraph)

    # ------------------------------------------------------------------ graph
    def build_graph(self) -> None:
        """Row by row: nodes for accounts, lenders, devices; edges for every event."""
        g = self.g
        for acc in self.ctx.accounts.iter_rows(named=True):
            g.add_node("a:" + acc["account_id"], kind="account", limit=acc["credit_limit"])
        for ln in self.ctx.loans.iter_rows(named=True):
            lender = "l:" + ln["lender_id"]
            if lender not in g:
                g.add_node(lender, kind="lender")
            g.add_edge("a:" + ln["account_id"], lender, key=ln["loan_id"], kind="loan", **ln)
        if self.ctx.applications is not None:
            for ap in self.ctx.applications.iter_rows(named=True):
                lender = "l:" + ap["lender_id"]
                if lender not in g:
                    g.add_node(lender, kind="lender")
                g.add_edge("a:" + ap["account_id"], lender, kind="application", **ap)
        for lg in self.ctx.devices.iter_rows(named=True):
            dev = "d:" + lg["device_id"]
            if dev not in g:
                g.add_node(dev, kind="device")
            g.add_edge("a:" + lg["account_id"], dev, kind="login", **lg)
        for tr in self.ctx.transfers.iter_rows(named=True):
            for end in (tr["src_account"], tr["dst_account"]):
                if "a:" + end not in g:
                    g.add_node("a:" + end, kind="external")
            g.add_edge(
                "a:" + tr["src_account"],
                "a:" + tr["dst_account"],
                key=tr["transfer_id"],
                kind="transfer",
                **tr,
            )

    # ---------------------------------------------------------------- helpers
    def accounts(self) -> Iterator[str]:
        for n, d in self.g.nodes(data=True):
            if d["kind"] == "account":
                yield n

    def out_edges(self, node: str, kind: str) -> list[dict[str, Any]]:
        return [d for _, _, d in self.g.out_edges(node, data=True) if d["kind"] == kind]

    def in_edges(self, node: str, kind: str) -> list[dict[str, Any]]:
        return [d for _, _, d in self.g.in_edges(node, data=True) if d["kind"] == kind]

    def device_links(self, max_accounts: int) -> dict[str, set[str]]:
        """Accounts sharing a device used by at most ``max_accounts`` accounts."""
        links: dict[str, set[str]] = defaultdict(set)
        for n, d in self.g.nodes(data=True):
            if d["kind"] != "device":
                continue
            users = {u for u, _ in self.g.in_edges(n)}
            if 2 <= len(users) <= max_accounts:
                for u in users:
                    links[u] |= users - {u}
        return links

    def ip_links(self, max_accounts: int) -> dict[str, set[str]]:
        """Accounts logging in through an address used by at most ``max_accounts`` accounts."""
        users: dict[str, set[str]] = defaultdict(set)
        for u, _, d in self.g.edges(data=True):
            if d["kind"] == "login" and d.get("ip"):
                users[d["ip"]].add(u)
        links: dict[str, set[str]] = defaultdict(set)
        for us in users.values():
            if 2 <= len(us) <= max_accounts:
                for u in us:
                    links[u] |= us - {u}
        return links

    def transfer_partners(self, node: str) -> set[str]:
        return {v for v in nx.all_neighbors(self.g, node) if v.startswith("a:")} - {node}

    def defaulters(self, default_days: int) -> set[str]:
        out = set()
        for a in self.accounts():
            if any(e["overdue_days"] >= default_days for e in self.out_edges(a, "loan")):
                out.add(a)
        return out

    # -------------------------------------------------------------- detectors
    def det_multi_lender(self) -> list[Flag]:
        p = params("multi_lender")
        w = timedelta(days=p["window_days"])
        flags = []
        for a in self.accounts():
            loans = sorted(self.out_edges(a, "loan"), key=lambda e: e["issued_at"])
            loans = [e for e in loans if e["issued_at"] >= self.ctx.start]
            for i, end in enumerate(loans):
                lenders = {
                    e["lender_id"] for e in loans[: i + 1] if e["issued_at"] > end["issued_at"] - w
                }
                if len(lenders) >= p["min_lenders"]:
                    flags.append((a[2:], "MULTI_LENDER", p["severity"]))
                    break
        return flags

    def det_loan_stacking(self) -> list[Flag]:
        p = params("loan_stacking")
        flags = []
        for a in self.accounts():
            loans = self.out_edges(a, "loan")
            if len(loans) < p["min_outstanding"]:
                continue
            events = []
            for e in loans:
                events.append((max(e["issued_at"], self.ctx.start), 1, e["loan_id"]))
                if e["repaid_at"] is not None:
                    events.append((e["repaid_at"], 0, e["loan_id"]))
            events.sort()
            by_id = {e["loan_id"]: e for e in loans}
            open_: set[str] = set()
            hit_end: datetime | None = None
            late = False
            standing = False
            for t, kind, lid in events:
                if kind:
                    open_.add(lid)
                else:
                    open_.discard(lid)
                lenders = {by_id[x]["lender_id"] for x in open_}
                if len(open_) >= p["min_outstanding"] and len(lenders) >= p["min_lenders"]:
                    standing = True
                    late |= any(by_id[x]["overdue_days"] >= p["late_days"] for x in open_)
                elif standing:
                    standing, hit_end = False, t
            if standing or hit_end is not None:
                resolved = (
                    not standing
                    and hit_end is not None
                    and (self.ctx.as_of - hit_end > timedelta(days=p["resolved_days"]))
                )
                sev = 1 if resolved and not late else p["severity"]
                flags.append((a[2:], "LOAN_STACKING", sev))
        return flags

    def det_small_loan_burst(self) -> list[Flag]:
        p = params("small_loan_burst")
        w = timedelta(days=p["window_days"])
        flags = []
        for a in self.accounts():
            small = sorted(
                e["issued_at"]
                for e in self.out_edges(a, "loan")
                if e["amount"] <= p["max_amount"] and e["issued_at"] >= self.ctx.start
            )
            for i, t in enumerate(small):
                if i + 1 - bisect_right(small, t - w) >= p["min_loans"]:
                    flags.append((a[2:], "SMALL_LOAN_BURST", p["severity"]))
                    break
        return flags

    def det_overdue_history(self) -> list[Flag]:
        p = params("overdue_history")
        flags = []
        for a in self.accounts():
            worst = max((e["overdue_days"] for e in self.out_edges(a, "loan")), default=0)
            if worst >= p["default_days"]:
                flags.append((a[2:], "OVERDUE_HISTORY", p["default_severity"]))
            elif worst >= p["min_overdue_days"]:
                flags.append((a[2:], "OVERDUE_HISTORY", p["severity"]))
        return flags

    def det_application_burst(self) -> list[Flag]:
        p = params("application_burst")
        w = timedelta(days=p["window_days"])
        flags = []
        for a in self.accounts():
            apps = sorted(self.out_edges(a, "application"), key=lambda e: e["applied_at"])
            for i, end in enumerate(apps):
                inside = [e for e in apps[: i + 1] if e["applied_at"] > end["applied_at"] - w]
                if (
                    len(inside) >= p["min_applications"]
                    and len({e["lender_id"] for e in inside}) >= p["min_lenders"]
                ):
                    flags.append((a[2:], "APPLICATION_BURST", p["severity"]))
                    break
        return flags

    def det_shared_device_ring(self) -> list[Flag]:
        p = params("shared_device_ring")
        ring = nx.Graph()
        for n, d in self.g.nodes(data=True):
            if d["kind"] != "device":
                continue
            users = {u for u, _ in self.g.in_edges(n)}
            if len(users) >= 2:
                for u in users:
                    ring.add_edge(u, n)
        flags = []
        for comp in nx.connected_components(ring):
            accs = [x for x in comp if x.startswith("a:")]
            if len(accs) >= p["min_accounts"]:
                flags += [(x[2:], "SHARED_DEVICE_RING", p["severity"]) for x in accs]
        return flags

    def det_ip_hopping(self) -> list[Flag]:
        p = params("ip_hopping")
        w = timedelta(hours=p["window_hours"])
        flags = []
        for a in self.accounts():
            logins = sorted(self.out_edges(a, "login"), key=lambda e: e["ts"])
            lo = 0
            cities: Counter[str] = Counter()
            ips: Counter[str] = Counter()
            for e in logins:
                cities[e.get("city")] += 1
                ips[e.get("ip")] += 1
                while logins[lo]["ts"] <= e["ts"] - w:
                    old = logins[lo]
                    for c, k in ((cities, old.get("city")), (ips, old.get("ip"))):
                        c[k] -= 1
                        if not c[k]:
                            del c[k]
                    lo += 1
                n_c = len([c for c in cities if c is not None])
                n_ip = len([c for c in ips if c is not None])
                if n_c >= p["min_cities"] or (n_ip >= p["min_ips"] and n_c >= p["min_ip_cities"]):
                    flags.append((a[2:], "IP_HOPPING", p["severity"]))
                    break
        return flags

    def _pair_times(self) -> dict[frozenset[str], list[datetime]]:
        pairs: dict[frozenset[str], list[datetime]] = defaultdict(list)
        for u, v, d in self.g.edges(data=True):
            if d["kind"] == "transfer":
                pairs[frozenset((u, v))].append(d["ts"])
        for ts in pairs.values():
            ts.sort()
        return pairs

    def det_transfer_cycle(self) -> list[Flag]:
        """Windows of ``window_days`` every half window; ``nx.simple_cycles`` on each."""
        p = params("transfer_cycle")
        w = timedelta(days=p["window_days"])
        rel = timedelta(days=p["max_relation_days"])
        pairs = self._pair_times()
        internal = [
            (u, v, d["ts"])
            for u, v, d in self.g.edges(data=True)
            if d["kind"] == "transfer"
            and self.g.nodes[u]["kind"] == "account"
            and self.g.nodes[v]["kind"] == "account"
        ]

        def fresh(u: str, v: str, t: datetime) -> bool:
            ts = pairs[frozenset((u, v))]
            return ts[0] >= t - w and ts[-1] - ts[0] <= rel

        flags: set[Flag] = set()
        start = self.ctx.start
        while start < self.ctx.as_of:
            end = start + w
            sub = nx.DiGraph()
            for u, v, t in internal:
                if start <= t <= end:
                    if sub.has_edge(u, v):
                        sub[u][v]["ts"].append(t)
                    else:
                        sub.add_edge(u, v, ts=[t])
            for cyc in nx.simple_cycles(sub, length_bound=p["max_length"]):
                if len(cyc) < p["min_length"]:
                    continue
                hops = list(zip(cyc, cyc[1:] + cyc[:1], strict=True))
                n_fresh = sum(any(fresh(u, v, t) for t in sub[u][v]["ts"]) for u, v in hops)
                if n_fresh / len(hops) >= p["min_new_share"]:
                    flags |= {(x[2:], "TRANSFER_CYCLE", p["severity"]) for x in cyc}
            start += w / 2
        return sorted(flags)

    def det_fan_out_after_loan(self) -> list[Flag]:
        p = params("fan_out_after_loan")
        w = timedelta(days=p["window_days"])
        flags = []
        for a in self.accounts():
            loans = [e for e in self.out_edges(a, "loan") if e["issued_at"] >= self.ctx.start]
            if not loans:
                continue
            sent = sorted(self.out_edges(a, "transfer"), key=lambda e: e["ts"])
            first: dict[str, datetime] = {}
            for e in sent:
                first.setdefault(e["dst_account"], e["ts"])
            for ln in loans:
                t0 = ln["issued_at"]
                got: dict[str, float] = defaultdict(float)
                for e in sent:
                    if t0 <= e["ts"] <= t0 + w and first[e["dst_account"]] >= t0:
                        got[e["dst_account"]] += e["amount"]
                if (
                    len(got) >= p["min_recipients"]
                    and sum(got.values()) >= p["min_share"] * ln["amount"]
                ):
                    flags.append((a[2:], "FAN_OUT_AFTER_LOAN", p["severity"]))
                    break
        return flags

    def det_fan_in_collector(self) -> list[Flag]:
        p = params("fan_in_collector")
        lag = timedelta(days=p["max_lag_days"])
        w = timedelta(days=p["window_days"])
        dev = self.device_links(p["max_device_accounts"])
        feeds: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
        for a in self.accounts():
            sent = self.out_edges(a, "transfer")
            if not sent:
                continue
            for ln in self.out_edges(a, "loan"):
                t0 = ln["issued_at"]
                got: dict[str, float] = defaultdict(float)
                for e in sent:
                    if t0 <= e["ts"] <= t0 + lag:
                        got[e["dst_account"]] += e["amount"]
                for dst, amt in got.items():
                    if amt >= p["min_share"] * ln["amount"]:
                        feeds["a:" + dst].append((t0, a))
        flags = []
        for coll, fs in feeds.items():
            fs.sort()
            for i, (t, _) in enumerate(fs):
                feeders = {f for s, f in fs[: i + 1] if s > t - w}
                if len(feeders) < p["min_feeders"]:
                    continue
                linked = [
                    f for f in feeders if coll in dev.get(f, ()) or dev.get(f, set()) & feeders
                ]
                if len(linked) >= p["min_linked_share"] * len(feeders):
                    if self.g.nodes[coll]["kind"] == "account":
                        flags.append((coll[2:], "FAN_IN_COLLECTOR", p["severity"]))
                    flags += [(f[2:], "FAN_IN_COLLECTOR", p["feeder_severity"]) for f in feeders]
                    break
        return flags

    def det_scatter_gather(self) -> list[Flag]:
        p = params("scatter_gather")
        gather = timedelta(days=p["gather_days"])
        scatter = timedelta(hours=p["scatter_hours"])
        flags: set[Flag] = set()
        for src in self.accounts():
            out = sorted(self.out_edges(src, "transfer"), key=lambda e: e["ts"])
            if len(out) < p["min_intermediaries"]:
                continue
            first: dict[str, datetime] = {}
            for e in out:
                first.setdefault(e["dst_account"], e["ts"])
            legs: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
            for e in out:
                mid = "a:" + e["dst_account"]
                fwd: dict[str, float] = defaultdict(float)
                for f in self.out_edges(mid, "transfer"):
                    if e["ts"] <= f["ts"] <= e["ts"] + gather and "a:" + f["dst_account"] != src:
                        fwd[f["dst_account"]] += f["amount"]
                for sink, amt in fwd.items():
                    if amt >= p["min_forward_share"] * e["amount"]:
                        legs[sink].append((e["ts"], mid))
            for sink, ls in legs.items():
                ls.sort()
                for i, (t, _) in enumerate(ls):
                    mids = {m for s, m in ls[: i + 1] if s > t - scatter}
                    if len(mids) < p["min_intermediaries"]:
                        continue
                    new = [m for m in mids if first[m[2:]] >= t - scatter]
                    if len(new) >= p["min_new_share"] * len(mids):
                        flags.add((src[2:], "SCATTER_GATHER", p["severity"]))
                        flags |= {(m[2:], "SCATTER_GATHER", p["severity"]) for m in mids}
                        if self.g.nodes["a:" + sink]["kind"] == "account":
                            flags.add((sink, "SCATTER_GATHER", p["severity"]))
                        break
        return sorted(flags)

    def det_associated_transfer(self) -> list[Flag]:
        p = params("associated_transfer")
        w = timedelta(days=p["window_days"])
        dev = self.device_links(p["max_device_accounts"])
        ips = self.ip_links(p["max_ip_accounts"])
        flags: set[Flag] = set()
        for a in self.accounts():
            linked = dev.get(a, set()) | ips.get(a, set())
            if not linked:
                continue
            out = sorted(self.out_edges(a, "transfer"), key=lambda e: e["ts"])
            for i, e in enumerate(out):
                inside = [f for f in out[: i + 1] if f["ts"] > e["ts"] - w]
                to_linked = [f for f in inside if "a:" + f["dst_account"] in linked]
                amt = sum(f["amount"] for f in to_linked)
                total = sum(f["amount"] for f in inside)
                if (
                    amt >= p["min_amount"]
                    and len(to_linked) >= p["min_transfers"]
                    and amt >= p["min_share"] * total
                ):
                    flags.add((a[2:], "ASSOCIATED_TRANSFER", p["severity"]))
                    flags |= {
                        (f["dst_account"], "ASSOCIATED_TRANSFER", p["severity"]) for f in to_linked
                    }
                    break
        return sorted(flags)

    def _link_graph(self, p: dict[str, Any]) -> nx.Graph:
        dev = self.device_links(p["max_device_accounts"])
        ips = self.ip_links(p["max_ip_accounts"])
        links = nx.Graph()
        for a, others in dev.items():
            for b in others:
                links.add_edge(a, b, weight=p.get("device_weight", 1.0))
        for a, others in ips.items():
            for b in others:
                w = links[a][b]["weight"] if links.has_edge(a, b) else 0.0
                links.add_edge(a, b, weight=w + p.get("ip_weight", 1.0))
        return links

    def det_group_multi_lender(self) -> list[Flag]:
        p = params("group_multi_lender")
        w = timedelta(days=p["window_days"])
        links = self._link_graph(p)
        identity = set(links)
        for u, v, d in self.g.edges(data=True):
            if d["kind"] == "transfer" and u in identity and v in identity and u != v:
                wt = links[u][v]["weight"] if links.has_edge(u, v) else 0.0
                links.add_edge(u, v, weight=wt + p["transfer_weight"])
        groups: list[set[str]] = []
        for comp in nx.connected_components(links):
            if len(comp) <= p["max_component"]:
                groups.append(comp)
            else:
                groups += nx.community.louvain_communities(
                    links.subgraph(comp), weight="weight", seed=p["seed"]
                )
        flags = []
        for grp in groups:
            if not p["min_members"] <= len(grp) <= p["max_group"]:
                continue
            loans = sorted(
                (e for m in grp for e in self.out_edges(m, "loan")),
                key=lambda e: e["issued_at"],
            )
            for i, end in enumerate(loans):
                inside = [e for e in loans[: i + 1] if e["issued_at"] > end["issued_at"] - w]
                per: dict[str, set[str]] = defaultdict(set)
                for e in inside:
                    per[e["account_id"]].add(e["lender_id"])
                lenders = set().union(*per.values())
                if len(lenders) >= p["min_lenders"] and all(
                    len(s) <= p["member_max_lenders"] for s in per.values()
                ):
                    flags += [(m, "GROUP_MULTI_LENDER", p["severity"]) for m in per]
                    break
        return flags

    def det_risk_proximity(self) -> list[Flag]:
        """k-hop decayed count of defaulters (BFS per defaulter), PageRank as the score."""
        p = params("risk_proximity")
        bad = self.defaulters(p["default_days"])
        links = self._link_graph(p)
        for a in self.accounts():
            partners = self.transfer_partners(a)
            if len(partners) <= p["max_partners"]:
                for b in partners:
                    if self.g.nodes[b]["kind"] == "account" and (
                        len(self.transfer_partners(b)) <= p["max_partners"]
                    ):
                        links.add_edge(a, b, weight=1.0)
        if not bad or not links.number_of_nodes():
            return []
        seeds = {a: 1.0 for a in bad if a in links}
        rank = nx.pagerank(links, personalization=seeds or None) if seeds else {}
        score: dict[str, float] = defaultdict(float)
        for d in bad:
            if d not in links:
                continue
            for a, k in nx.single_source_shortest_path_length(
                links, d, cutoff=p["max_hops"]
            ).items():
                if k:
                    score[a] += 0.5 ** (k - 1)  # the old rule: decay 0.5, two defaulters
        return [
            (a[2:], "RISK_PROXIMITY", p["severity"])
            for a, s in score.items()
            if s >= 2.0 and a not in bad and rank.get(a, 0.0) >= 0.0
        ]

    def det_loan_recycling(self) -> list[Flag]:
        """Direct refinances (pairs of own loans) and one linked step via transfers."""
        p = params("loan_recycling")
        gap = timedelta(days=p["max_gap_days"])
        age = timedelta(days=p["min_age_days"])
        tday = timedelta(days=p["transfer_days"])
        rday = timedelta(days=p["repay_days"])
        dev = self.device_links(p["max_device_accounts"])
        flags: set[Flag] = set()
        for a in self.accounts():
            loans = self.out_edges(a, "loan")
            refis = set()
            for old in loans:
                if old["repaid_at"] is None or old["repaid_at"] < self.ctx.start:
                    continue
                if old["repaid_at"] - old["issued_at"] < age:
                    continue
                for new in loans:
                    if (
                        new["lender_id"] != old["lender_id"]
                        and old["repaid_at"] - gap <= new["issued_at"] <= old["repaid_at"]
                        and abs(new["amount"] - old["amount"])
                        <= p["amount_tolerance"] * old["amount"]
                    ):
                        refis.add(old["loan_id"])
                        break
            if len(refis) >= p["min_repeats"]:
                flags.add((a[2:], "LOAN_RECYCLING", p["severity"]))
            steps: Counter[str] = Counter()
            sent = self.out_edges(a, "transfer")
            for ln in loans:
                got: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
                for e in sent:
                    if ln["issued_at"] <= e["ts"] <= ln["issued_at"] + tday:
                        got["a:" + e["dst_account"]].append((e["ts"], e["amount"]))
                for y, items in got.items():
                    amt = sum(x for _, x in items)
                    if amt < p["min_share"] * ln["amount"] or y not in self.g:
                        continue
                    t = max(s for s, _ in items)
                    for yl in self.out_edges(y, "loan"):
                        if (
                            yl["repaid_at"] is not None
                            and t <= yl["repaid_at"] <= t + rday
                            and amt >= p["min_share"] * yl["amount"]
                            and (y in dev.get(a, ()) or self.g.has_edge(y, a))
                        ):
                            steps[y] += 1
                            break
            for y, n in steps.items():
                if n >= p["min_repeats_linked"]:
                    flags |= {
                        (a[2:], "LOAN_RECYCLING", p["severity"]),
                        (y[2:], "LOAN_RECYCLING", p["severity"]),
                    }
        return sorted(flags)


#: graphrisk detector name -> baseline method (the detectors written the networkx way; the
#: cash-flow detectors, added later, have none: ratios compare the detectors both run)
DETECTORS: dict[str, Callable[[Baseline], list[Flag]]] = {
    name: getattr(Baseline, f"det_{name}")
    for name in sorted(REGISTRY)
    if hasattr(Baseline, f"det_{name}")
}


def run(
    data: str | Path, progress: Callable[[dict[str, Any]], None] | None = None
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Run the whole baseline on a data directory: (stage rows, flags per code)."""
    rows: list[dict[str, Any]] = []

    def stage(name: str, fn: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        out = fn()
        row = {
            "stage": name,
            "seconds": round(time.perf_counter() - t, 4),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
        rows.append(row)
        if progress:
            progress(row)
        return out

    tables = stage("load", lambda: graphrisk.load(data))

    def context() -> ScanContext:
        ctx = ScanContext.build(tables)
        _ = ctx.accounts, ctx.loans, ctx.transfers, ctx.devices, ctx.applications
        return ctx

    ctx = stage("context", context)
    base = Baseline(ctx)
    stage("graph", base.build_graph)
    per_code: Counter[str] = Counter()
    for name, fn in DETECTORS.items():
        flags = stage(f"detector:{name}", lambda fn=fn: fn(base))
        per_code.update(code for _, code, _ in set(flags))
    return rows, dict(sorted(per_code.items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.baseline_nx", description=__doc__)
    ap.add_argument("data")
    ap.add_argument("--progress", help="append one JSON line per finished stage to this file")
    args = ap.parse_args(argv)

    def progress(row: dict[str, Any]) -> None:
        if args.progress:
            with open(args.progress, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
        print(f"{row['stage']:<34} {row['seconds']:>10.2f} s", file=sys.stderr, flush=True)

    rows, per_code = run(args.data, progress)
    print(json.dumps({"stages": rows, "flags": per_code, "peak_rss_mb": round(peak_rss_mb(), 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
