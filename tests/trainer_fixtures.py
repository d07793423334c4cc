"""Tiny random masked LMs and stores for the trainer tests (no download, ever)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

WORDS = [
    "nike",
    "adidas",
    "puma",
    "reebok",
    "shoes",
    "sneakers",
    "running",
    "athletic",
    "wear",
    "tshirts",
    "trousers",
    "hoodies",
    "jackets",
    "socks",
    "shorts",
    "and",
    "are",
    "is",
    "very",
    "really",
    "quite",
    "so",
    "super",
    "known",
    "for",
    "being",
    "famous",
    "made",
    "by",
    "not",
    "the",
    "my",
    "new",
    "i",
    "think",
    "bought",
    "comfortable",
    "durable",
    "lightweight",
    "affordable",
    "great",
    "good",
    "nice",
    "soft",
    "elegant",
    "amazing",
    "ugly",
    "bad",
    "terrible",
    "heavy",
    "expensive",
    "cheap",
    "poor",
    "store",
    "staff",
    "were",
    "website",
    "of",
    "a",
    "it",
    "this",
    "that",
    "paris",
    "capital",
    "france",
]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def make_tiny_mlm(folder: Path) -> Path:
    """Save a random 2-layer, 32-hidden BertForMaskedLM and its WordPiece tokenizer."""
    from transformers import BertConfig, BertForMaskedLM, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    words = sorted(set(WORDS) | set(letters))
    vocab = SPECIAL + words + [f"##{c}" for c in letters]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    # transformers 5 takes the WordPiece vocabulary as ``vocab`` (a path or a dict).
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def review_rows(n: int, seed: int = 0) -> list[str | None]:
    """Short review sentences with some nulls and blanks mixed in."""
    import random

    rng = random.Random(seed)
    adjectives = ["comfortable", "durable", "great", "nice", "soft"]
    products = ["shoes", "sneakers", "hoodies", "socks"]
    rows: list[str | None] = []
    for i in range(n):
        if i % 10 == 3:
            rows.append(None if i % 20 == 3 else "   ")
            continue
        rows.append(f"Nike {rng.choice(products)} are very {rng.choice(adjectives)}")
    return rows


GENERAL_WORDS = [
    "the", "a", "cat", "dog", "sat", "ran", "on", "in", "mat", "park", "sun", "is", "hot",
    "cold", "water", "tea", "cup", "of", "drank", "she", "he", "house", "big", "small",
]  # fmt: skip


def make_tiny_clm(folder: Path, layers: int = 2) -> Path:
    """Save a random ``layers``-block, 32-hidden LlamaForCausalLM and a byte-level BPE tokenizer.

    The tokenizer is trained here on the test vocabulary (it marks word starts with a space,
    as real BPE tokenizers do), so nothing is downloaded.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|pad|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=800,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = [" ".join(WORDS), " ".join(GENERAL_WORDS)] + [f"a {w} b {w}." for w in WORDS]
    bpe.train_from_iterator(corpus * 20, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|pad|>"
    )
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=64,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.eos_token_id,
    )
    import torch

    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
