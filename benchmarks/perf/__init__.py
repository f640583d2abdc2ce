"""Performance suite of flowalign_nb (issue #10): couplings, training loop, memory, transport, FLOP/s.

Run with ``make bench`` or ``.venv/bin/python benchmarks/perf_suite.py [--quick] [--device cuda]``.
"""
