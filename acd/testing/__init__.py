"""Helpers shared by the tests, the demo and the benchmark (real services, started on demand)."""
