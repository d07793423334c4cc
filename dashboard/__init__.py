"""The Streamlit dashboard over a curate store (read-only).

``app.py`` is the entrypoint (``curate dashboard`` runs it); ``app_pages/`` holds one script per
page, each calling ``views/<page>.render()``; every query goes through :mod:`dashboard.data`
(metrics, alerts, quarantine, edge cases, overview, profiles) and :mod:`dashboard.runs`
(training runs), which read the store only through :class:`curate.store_reader.StoreReader`,
cached on its segment listing by :mod:`dashboard.cache`. ``charts``, ``filters`` and
``distributions`` are plain functions; ``screenshot`` takes PNGs of every page with headless
Chromium.
"""
