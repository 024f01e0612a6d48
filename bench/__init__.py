"""The benchmark: data loading, the driver, the paced load, the soak and the plan checks
(run from the project root as `python -m bench.<module>`; the Makefile's targets do)."""
