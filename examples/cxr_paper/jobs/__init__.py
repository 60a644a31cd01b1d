"""The commands: one module per script in ``examples/``, each with its argument parser and the
job it runs (``main``). The scripts only parse arguments and call ``main``."""
