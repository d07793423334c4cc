"""Root pytest configuration: which files are collected for doctests."""

# Streamlit scripts run their page code on import, and benchmarks are scripts, not tests.
collect_ignore_glob = ["dashboard/app.py", "dashboard/pages/*", "benchmarks/*", ".demo/*"]
