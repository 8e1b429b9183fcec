"""Helpers shared by the tests and the benchmarks.

The tests import them as `support.<module>` (pytest puts tests/ on sys.path); the benchmarks
do the same through benchmarks/report.py. Fixtures stay in tests/conftest.py.
"""
