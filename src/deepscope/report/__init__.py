"""Single-file HTML reports: a run's payload inlined into the built dashboard."""
