"""Benchmarks that print figures: per-step cost, bytes per step, resume latency, throughput, CLI start.

Run with `make bench` (`.venv/bin/python -m bench`); they never assert on time.
"""
