"""Reference profiles saved in the store (``profiles/``): which there are, and their columns.

The drift page asks for them through :mod:`dashboard.data`. ``monitors`` is imported inside the
functions: it loads scipy (about a second), which only a store with profiles needs.

>>> import tempfile, pathlib
>>> profile_files(pathlib.Path(tempfile.mkdtemp()) / "missing")
[]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from curate.lru import LRU
from curate.store_reader import StoreReader
from dashboard.cache import file_stamp


def profile_files(root: Path) -> list[Path]:
    """Saved profiles under ``profiles/`` (any depth), newest last.

    >>> import tempfile
    >>> profile_files(Path(tempfile.mkdtemp()))
    []
    """
    paths = StoreReader(root).profile_paths()
    if not paths:
        return []
    from monitors.profile import is_profile_file  # lazy: see the module docstring

    return [p for p in paths if is_profile_file(p)]


_PROFILES = LRU(16)


def load_profile(path: Path) -> dict[str, Any]:
    """``{column: ColumnProfile}`` of a saved profile (cached on size and mtime).

    >>> import tempfile
    >>> from monitors.profile import build_profile
    >>> path = Path(tempfile.mkdtemp()) / "ref.profile"
    >>> _ = build_profile({"x": [1.0, 2.0, 3.0]}).save(path)
    >>> sorted(load_profile(path))
    ['x']
    """
    key = (str(path), file_stamp(path))
    columns = _PROFILES.get(key)
    if columns is None:
        from monitors.profile import Profile  # lazy: see the module docstring

        columns = dict(Profile.load(path).columns)
        _PROFILES.put(key, columns)
    return columns


def safe_profile(path: Path) -> dict[str, Any]:
    """:func:`load_profile`, or ``{}`` for a file that cannot be read as a profile (the page
    shows the other profiles rather than failing).

    >>> import tempfile
    >>> bad = Path(tempfile.mkdtemp()) / "x.profile"
    >>> _ = bad.write_bytes(b"not parquet")
    >>> safe_profile(bad)
    {}
    """
    try:
        return load_profile(path)
    except (ImportError, ValueError, OSError, KeyError):
        return {}
