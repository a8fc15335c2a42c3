"""Conformance suites and helpers for testing cliquet backends and services."""
