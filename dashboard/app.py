"""The curate dashboard: ``streamlit run dashboard/app.py -- --store curate_data``.

Seven pages (``st.navigation``): overview, edge cases, integrity, drift, training runs, visuals
and signals. Every page reads the store through :mod:`dashboard.data`; the only write is a
review decision on the Edge cases page, and only under ``curate dashboard --allow-review``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import ui

PAGES = Path(__file__).parent / "app_pages"

# (file, title, icon, url path); "/" opens the first.
PAGE_SPECS = (
    ("overview.py", "Overview", ":material/dashboard:", "overview"),
    ("edge_cases.py", "Edge cases", ":material/table_rows:", "edge_cases"),
    ("signals.py", "Signals", ":material/functions:", "signals"),
    ("integrity.py", "Integrity", ":material/rule:", "integrity"),
    ("drift.py", "Drift", ":material/stacked_line_chart:", "drift"),
    ("training.py", "Training runs", ":material/model_training:", "training"),
    ("visuals.py", "Visuals", ":material/scatter_plot:", "visuals"),
)


def main() -> None:
    """Configure the page, resolve the store, show the sidebar and run the chosen page."""
    st.set_page_config(page_title="curate", page_icon=":material/insights:", layout="wide")
    root = ui.init_store()
    pages = [
        st.Page(PAGES / name, title=title, icon=icon, url_path=url)
        for name, title, icon, url in PAGE_SPECS
    ]

    def home() -> None:
        st.switch_page(pages[0])

    # Streamlit serves the default page at "/" only, never at its url_path: a hidden default
    # that opens the overview gives every page, /overview included, its own working address.
    start = st.Page(home, title=PAGE_SPECS[0][1], url_path="home", default=True,
                    visibility="hidden")  # fmt: skip
    page = st.navigation([start, *pages])
    with st.sidebar:
        label = ui.store_label()
        st.caption(
            f"Store: `{label}`" if label == str(root) else f"Store: `{label}` (copy in `{root}`)"
        )
        if st.button("Refresh", icon=":material/refresh:", help="re-read the store now"):
            ui.refresh_store()
            st.rerun()
    page.run()


main()
