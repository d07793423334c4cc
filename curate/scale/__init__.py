"""Batch curation at scale: the config's checks over a large source, locally or on Ray Data.

:func:`curate.scale.job.run` (``curate batch`` on the command line) cuts a source into
fragments (:mod:`curate.scale.sources`), curates each with :func:`curate.scale.curation.curate_table`
(the same per-batch code the writer thread runs) on the chosen engine, combines the partial
metrics in source order (:mod:`curate.scale.reduce`) and writes the store.
"""
