"""Rubrics: the criteria models, per-row rubric formats, code checks, meta-rubrics and YAML with locations.

The bottom layer: imports nothing of judgekit but `errors`.
"""
