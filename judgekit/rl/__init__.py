"""Rewards for trainers: TRL reward functions, verl compute_score, the OpenRLHF reward server, shaping.
"""
