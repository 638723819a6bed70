"""Judge evaluation on labelled pairs: accuracy, ties, position consistency, master-key probes.
"""
