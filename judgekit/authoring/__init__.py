"""Building rubrics: generate, refine, correlation-aware weights, and the refine report.
"""
