"""Benchmarks of spfmanager (run from the repository root, see README.md)."""
