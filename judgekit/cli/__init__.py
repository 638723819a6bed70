"""The `judgekit` command: the app, options defined once, one module per command group.
"""
