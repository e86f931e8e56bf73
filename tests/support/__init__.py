"""Test support: real servers and processes the tests start (and stop)."""
