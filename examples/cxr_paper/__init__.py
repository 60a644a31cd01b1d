"""The pieces of ``examples/reproduce_paper.py``: config, data, training, evaluation, report."""
