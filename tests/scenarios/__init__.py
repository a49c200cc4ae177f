"""Scenario tests: the borrowers of SPEC's seed articles, scanned month after month."""
