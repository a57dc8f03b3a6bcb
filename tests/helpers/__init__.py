"""Helpers shared by the tests (and, for the QEMU launcher, by benchmarks/)."""
