"""Streamlit helpers shared by the pages: which store, empty states, tables, number formatting.

Times are shown in UTC, 24-hour, everywhere: tables through :func:`table`, labels through
:func:`fmt_time`, charts through :mod:`dashboard.charts`, as the time slider shows them.

The store reaches the app as ``--store PATH`` after ``--`` on the ``streamlit run`` command
line (what ``curate dashboard`` passes), else from ``CURATE_STORE``, else ``curate_data``.
Review decisions may be saved only with ``--allow-review`` there (or ``CURATE_ALLOW_REVIEW=1``,
which ``curate dashboard`` sets exactly when it was given the flag).

>>> resolve_store(["--store", "/tmp/x"], {}).as_posix()
'/tmp/x'
>>> fmt_pct(0.0512)
'5.12%'
>>> fmt_time(pd.Timestamp("2026-01-05 18:42:07", tz="UTC"))
'2026-01-05 18:42:07'
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from curate.delta_mirror import DeltaMirror
from curate.delta_store import is_uri
from curate.errors import CurateError

STORE_KEY = "curate_store"
PULLED_KEY = "curate_store_pulled"
#: Where a Delta store's local copy lives (default: the user cache, ``curate.delta_mirror``).
MIRROR_ENV = "CURATE_MIRROR"
#: Seconds between copies of a Delta store while its pages are browsed.
PULL_EVERY = 30.0
#: Table cells of a time column (moment.js format), in UTC.
TABLE_TIME = "YYYY-MM-DD HH:mm:ss [UTC]"
QUICK_START = "see the README's Quick start"


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--store")
    parser.add_argument("--retrain-after", type=int)
    parser.add_argument("--allow-review", action="store_true")
    args, _ = parser.parse_known_args(list(argv))
    return args


def resolve_store(argv: Sequence[str], env: Mapping[str, str]) -> Path | str:
    """The store from ``argv`` (``--store``), ``CURATE_STORE`` or ``curate_data``: a folder,
    or a Delta store's URI as given.

    >>> resolve_store(["--store", "s3://bucket/curate"], {})
    's3://bucket/curate'
    """
    value = _parse(argv).store or env.get("CURATE_STORE") or "curate_data"
    if is_delta_uri(value):
        return value
    return Path(value).expanduser().absolute()


def is_delta_uri(value: str) -> bool:
    """True for a Delta store on object storage (``s3://``, ``gs://``...; not ``file://``).

    >>> is_delta_uri("gs://b/x"), is_delta_uri("file:///tmp/x"), is_delta_uri("/tmp/x")
    (True, False, False)
    """
    return is_uri(value) and not value.lower().startswith("file://")


def retrain_after_arg(argv: Sequence[str], env: Mapping[str, str]) -> int | None:
    """``--retrain-after`` from ``argv`` or ``CURATE_RETRAIN_AFTER`` (``None`` if neither)."""
    value = _parse(argv).retrain_after
    if value is None and env.get("CURATE_RETRAIN_AFTER", "").isdigit():
        value = int(env["CURATE_RETRAIN_AFTER"])
    return value if value and value > 0 else None


def review_allowed(argv: Sequence[str], env: Mapping[str, str]) -> bool:
    """True when the app may save review decisions: ``--allow-review`` or
    ``CURATE_ALLOW_REVIEW=1``; otherwise the dashboard writes nothing.

    >>> review_allowed(["--store", "s"], {}), review_allowed(["--allow-review"], {})
    (False, True)
    >>> review_allowed([], {"CURATE_ALLOW_REVIEW": "1"}), review_allowed([], {"CURATE_ALLOW_REVIEW": "0"})
    (True, False)
    """
    return bool(_parse(argv).allow_review) or env.get("CURATE_ALLOW_REVIEW") == "1"


def can_review() -> bool:
    """Whether this dashboard process was started to accept review decisions (never on a
    Delta store: the pages show a local copy of it, and decisions there would reach no one)."""
    return review_allowed(sys.argv[1:], os.environ) and not is_delta_uri(store_label())


def init_store() -> Path:
    """Resolve the store once per session and remember it in the session state; the folder
    the pages read. A Delta store is read from its local copy (:mod:`curate.delta_mirror`),
    brought up to date every :data:`PULL_EVERY` seconds and on Refresh."""
    value = store_label()
    if not is_delta_uri(value):
        return Path(value)
    mirror = DeltaMirror(value, os.environ.get(MIRROR_ENV) or None)
    if time.monotonic() - st.session_state.get(PULLED_KEY, -PULL_EVERY) >= PULL_EVERY:
        try:
            mirror.pull()
        except CurateError as exc:  # object storage unreachable: show the last copy, say so
            st.warning(f"Could not read {value} ({exc}); showing the copy made earlier.")
        st.session_state[PULLED_KEY] = time.monotonic()
    return mirror.root


def store_label() -> str:
    """The store as given: a folder's absolute path, or a Delta store's URI."""
    if STORE_KEY not in st.session_state:
        st.session_state[STORE_KEY] = str(resolve_store(sys.argv[1:], os.environ))
    return st.session_state[STORE_KEY]


def refresh_store() -> None:
    """Make the next :func:`init_store` copy a Delta store again (the Refresh button)."""
    st.session_state.pop(PULLED_KEY, None)


def store_root() -> Path:
    """The store this session shows."""
    return init_store()


def no_store(root: Path) -> None:
    """The empty state of every page when the folder is not a store yet."""
    st.info(
        f"No curate store at `{root}` yet. Log rows with a `Framework` whose config has "
        f'`"retraining_folder": "{root}"` (or start the dashboard with `--store` pointing at '
        f"your store); {QUICK_START}.",
        icon=":material/folder_off:",
    )


def empty(message: str) -> None:
    """An empty-state note that explains how to get data onto the page."""
    st.info(message, icon=":material/info:")


def time_columns(df: pd.DataFrame) -> dict[str, Any]:
    """Column settings that show every time column of ``df`` in UTC, 24-hour.

    >>> sorted(time_columns(pd.DataFrame({"ts": pd.to_datetime([0], utc=True), "x": [1]})))
    ['ts']
    """
    return {
        name: st.column_config.DatetimeColumn(format=TABLE_TIME, timezone="UTC")
        for name, dtype in df.dtypes.items()
        if pd.api.types.is_datetime64_any_dtype(dtype)
    }


def table(df: pd.DataFrame, column_config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """``st.dataframe`` without the index, full width, times in UTC (:func:`time_columns`)."""
    config = {**time_columns(df), **(column_config or {})}
    return st.dataframe(df, hide_index=True, width="stretch", column_config=config, **kwargs)


def fmt_time(value: Any, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A time as text in UTC, 24-hour (``–`` for missing).

    >>> fmt_time(pd.Timestamp("2026-01-05 19:42", tz="Europe/Paris"), "%H:%M"), fmt_time(None)
    ('18:42', '–')
    """
    if value is None or pd.isna(value):
        return "–"
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.strftime(fmt)


def fmt_int(value: int | float | None) -> str:
    """``1,234`` (``–`` for missing)."""
    return "–" if value is None else f"{int(value):,}"


def fmt_pct(value: float | None, digits: int = 2) -> str:
    """``5.12%`` (``–`` for missing)."""
    return "–" if value is None else f"{value:.{digits}%}"


def fmt_float(value: float | None, digits: int = 3) -> str:
    """A float with ``digits`` decimals (``–`` for missing)."""
    return "–" if value is None else f"{value:.{digits}f}"


# A rejected run finished cleanly but is not used: orange, apart from a run that failed.
STATUS_COLORS = {
    "succeeded": "green",
    "promoted": "green",
    "rejected": "orange",
    "running": "blue",
    "failed": "red",
}


def status_badge(status: str) -> str:
    """A run status as a coloured Markdown badge.

    >>> status_badge("promoted"), status_badge("rejected")
    (':green-badge[promoted]', ':orange-badge[rejected]')
    """
    return f":{STATUS_COLORS.get(status, 'gray')}-badge[{status}]"
