"""graphrisk benchmarks: full scans at growing sizes, a networkx baseline, per-stage profiles.

Run ``python -m benchmarks --help``; see ``benchmarks/README.md``.
"""
