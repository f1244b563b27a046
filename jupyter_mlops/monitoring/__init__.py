"""Monitoring production jobs: their history from the tracking store, pushed metrics."""
