"""Building rubrics: generate, refine, correlation-aware weights, pair-adaptive criteria,
per-row rubric-rm generation, and the refine report.
"""
