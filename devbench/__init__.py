"""devbench: a host controller for device benchmarks.

Data flow: config -> plan -> target session (prepare, run, restore) -> raw results
-> analysis -> report.
"""

__version__ = "0.1.0"
