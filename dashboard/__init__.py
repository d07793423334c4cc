"""The Streamlit dashboard over a curate store (read-only).

``app.py`` is the entrypoint (``curate dashboard`` runs it); ``app_pages/`` holds one script per
page, each calling ``views/<page>.render()``; every query goes through :mod:`dashboard.data`,
which reads Parquet segments through :mod:`dashboard.files` (cached on the folder listing).
``charts``, ``filters`` and ``distributions`` are plain functions; ``screenshot`` takes PNGs of
every page with headless Chromium.
"""
