"""Where a run executes: distributed ranks, device and precision choices, the reproducible mode,
the environment recorded with results, and the one way to time a call."""
