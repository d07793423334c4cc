"""The ported examples are scripts that run when imported (UpTrain code at module level), and
the recorder imports UpTrain: neither is collected, not even by ``--doctest-modules``."""

collect_ignore = ["record_expectations.py"]
collect_ignore_glob = ["examples/*.py"]
