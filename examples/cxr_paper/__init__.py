"""The pieces of ``examples/reproduce_paper.py``: configuration, data, training, evaluation, report."""
