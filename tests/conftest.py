"""Shared fixtures for the core tests: a store folder, a Framework factory, the example signals."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from webhook_server import Hook

from curate import Framework, Signal


@pytest.fixture
def store_path(tmp_path):
    """A fresh, empty store folder."""
    return tmp_path / "store"


@pytest.fixture
def make_framework(store_path) -> Iterator[Callable[..., Framework]]:
    """``make_framework(checks=[...], **config)``: a Framework on ``store_path``, closed after."""
    made: list[Framework] = []

    def make(checks: list[dict[str, Any]] | None = None, **config: Any) -> Framework:
        config.setdefault("retraining_folder", store_path)
        fw = Framework({"checks": checks or [], **config})
        made.append(fw)
        return fw

    yield make
    for fw in made:
        fw.close()


@pytest.fixture
def hook() -> Iterator[Callable[..., Hook]]:
    """``hook(script=[...])``: a scripted local webhook (``webhook_server.Hook``), closed after."""
    made: list[Hook] = []

    def make(**kw: Any) -> Hook:
        made.append(Hook(**kw))
        return made[-1]

    yield make
    for h in made:
        h.close()


def _words_signal(name: str, words: tuple[str, ...]) -> Signal:
    def fn(inputs, outputs, gts=None, extra_args=None):
        return [t is not None and any(w in t.lower() for w in words) for t in inputs["text"]]

    return Signal(name, fn)


@pytest.fixture
def trio() -> tuple[Signal, Signal, Signal]:
    """The product-review signals as plain Python functions: Nike, a product, a positive word."""
    return (
        _words_signal("is_nike", ("nike",)),
        _words_signal("is_product", ("shoes", "sneakers", "hoodies", "socks")),
        _words_signal("is_positive", ("durable", "comfortable", "great", "good")),
    )
