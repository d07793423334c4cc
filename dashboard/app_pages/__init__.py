"""The page scripts ``st.navigation`` runs (one per page; each calls its view's ``render()``).

Not named ``pages/``: Streamlit would also serve a ``pages/`` folder as a file-based multipage
app, running a page without the entrypoint when its URL is opened directly.
"""
