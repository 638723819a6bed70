"""The prompt/answer protocol: the one Jinja environment, the wire schema, native answer parsers,
soft verdicts from log-probabilities, and judge profiles.
"""
