"""The farm: the task graph of a run, placement on GPUs, and the dispatcher that runs it."""
