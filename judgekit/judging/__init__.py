"""Judging: the one ask-until-valid loop, pointwise and pairwise judging, ranking, criteria written
at judging time (rubric-rm, pair-adaptive), the one judgment module every caller starts from, the
score formulas, and the result rows.
"""
