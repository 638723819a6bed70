"""Rows in and out: the one row reader (JSONL, JSON array, gzip), public data-set readers, output files.

Imports `rubric` and the root modules only.
"""
