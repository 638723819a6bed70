"""Judging: the one ask-until-valid loop, pointwise and pairwise judging, ranking, the score
formulas, and the result rows.
"""
