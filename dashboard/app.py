"""The curate dashboard: ``streamlit run dashboard/app.py -- --store curate_data``.

Five pages (``st.navigation``): overview, edge cases, integrity, drift and training runs. Every
page reads the store through :mod:`dashboard.data` and never writes to it.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import ui

PAGES = Path(__file__).parent / "app_pages"

# (file, title, icon, url path); the first page is the default.
PAGE_SPECS = (
    ("overview.py", "Overview", ":material/dashboard:", "overview"),
    ("edge_cases.py", "Edge cases", ":material/table_rows:", "edge_cases"),
    ("integrity.py", "Integrity", ":material/rule:", "integrity"),
    ("drift.py", "Drift", ":material/stacked_line_chart:", "drift"),
    ("training.py", "Training runs", ":material/model_training:", "training"),
)


def main() -> None:
    """Configure the page, resolve the store, show the sidebar and run the chosen page."""
    st.set_page_config(page_title="curate", page_icon=":material/insights:", layout="wide")
    root = ui.init_store()
    pages = [
        st.Page(PAGES / name, title=title, icon=icon, url_path=url, default=(i == 0))
        for i, (name, title, icon, url) in enumerate(PAGE_SPECS)
    ]
    page = st.navigation(pages)
    with st.sidebar:
        st.caption(f"Store: `{root}`")
        if st.button("Refresh", icon=":material/refresh:", help="re-read the store now"):
            st.rerun()
    page.run()


main()
