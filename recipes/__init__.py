"""Runnable examples of wsgimw; each one is tested under tests/."""
