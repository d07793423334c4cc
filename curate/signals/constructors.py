"""The ``Signal.<name>(...)`` constructors of the built-in leaves, and the registry behind them.

:class:`Constructors` is a base of :class:`~curate.signals.Signal` holding only staticmethods,
so the catalogue of built-ins stays apart from the node algebra. Each constructor imports its
class when called: the built-ins import the node classes, so importing them here would be a
cycle. Higher layers add constructors with :func:`register_constructor` (``drift_outlier``
comes from the monitors layer).

>>> from curate.signals import Signal
>>> str(Signal.contains(["nike", "adidas"]) & (Signal.entropy(normalize=True) > 0.8))
"contains(text, ['nike', 'adidas']) & (entropy(outputs, normalize=True) > 0.8)"
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from curate.errors import SignalError

if TYPE_CHECKING:
    from curate.signals.node import Signal


class Constructors:
    """``Signal.arrow``, ``Signal.contains``, ...: each builds one leaf (see the builtins)."""

    __slots__ = ()  # a base of every node: no per-node ``__dict__``

    @staticmethod
    def arrow(name: str, fn: Callable[[Any], Any]) -> Signal:
        """A leaf computed from the whole :class:`~curate.batch.Batch` (vectorised code).

        >>> import numpy as np
        >>> from curate.batch import Batch
        >>> from curate.signals import Signal
        >>> s = Signal.arrow("first", lambda batch: batch.ids == 0)
        >>> s.evaluate(Batch.from_log(np.arange(2), np.zeros(2, np.int64), {"x": [1, 2]})).tolist()
        [True, False]
        """
        from curate.signals.leaf import ArrowSignal

        return ArrowSignal(name, fn)

    @staticmethod
    def contains(term: str | Sequence[str], column: str = "text", **kwargs: Any) -> Signal:
        """True where ``column`` contains ``term`` (any of several terms); see ``Contains``."""
        from curate.signals.builtins import Contains

        return Contains(term, column, **kwargs)

    @staticmethod
    def matches(pattern: str, column: str = "text") -> Signal:
        """True where ``column`` matches the regular expression ``pattern`` anywhere."""
        from curate.signals.builtins import Matches

        return Matches(pattern, column)

    @staticmethod
    def is_null(column: str = "text", empty: bool = False) -> Signal:
        """True where ``column`` is missing (None/NaN), or also empty text if ``empty``."""
        from curate.signals.builtins import IsNull

        return IsNull(column, empty)

    @staticmethod
    def length(column: str = "text") -> Signal:
        """Length of text (characters) or of lists in ``column``; NaN where missing."""
        from curate.signals.builtins import Length

        return Length(column)

    @staticmethod
    def in_set(column: str, values: Sequence[Any]) -> Signal:
        """True where ``column``'s value is one of ``values``."""
        from curate.signals.builtins import InSet

        return InSet(column, values)

    @staticmethod
    def confidence(column: str = "outputs") -> Signal:
        """The top class probability of each row's predicted distribution."""
        from curate.signals.builtins import Confidence

        return Confidence(column)

    @staticmethod
    def entropy(column: str = "outputs", normalize: bool = False) -> Signal:
        """Shannon entropy (nats, or in [0, 1] if ``normalize``) of each row's distribution."""
        from curate.signals.builtins import Entropy

        return Entropy(column, normalize)

    @staticmethod
    def margin(column: str = "outputs") -> Signal:
        """Top-1 minus top-2 class probability (small = uncertain); NaN without probabilities.

        >>> import numpy as np
        >>> from curate.batch import Batch
        >>> from curate.signals import Signal
        >>> b = Batch.from_log(np.arange(1), np.zeros(1, np.int64), {"x": [1]},
        ...                    outputs=[[0.5, 0.4, 0.1]])
        >>> Signal.margin().evaluate(b).round(2).tolist()
        [0.1]
        """
        from curate.signals.uncertainty import Margin

        return Margin(column)

    @staticmethod
    def label_issue(
        column: str = "outputs",
        gts: str = "gts",
        method: str = "self_confidence",
        classes: Sequence[str] | None = None,
    ) -> Signal:
        """How likely each row's ground truth is wrong, in [0, 1] (cleanlab's ``1 - quality``).

        ``method``: ``"self_confidence"`` (``1 - p[label]``) or ``"normalized_margin"``
        (``1 - (p[label] - max other p + 1) / 2``). Unknown labels score NaN.

        >>> import numpy as np
        >>> from curate.batch import Batch
        >>> from curate.signals import Signal
        >>> b = Batch.from_log(np.arange(2), np.zeros(2, np.int64), {"x": [1, 2]},
        ...                    outputs=[[0.9, 0.1], [0.9, 0.1]], gts=[0, 1])
        >>> (Signal.label_issue() > 0.5).evaluate(b).tolist()
        [False, True]
        """
        from curate.signals.uncertainty import LabelIssue

        return LabelIssue(column, gts, method, classes)

    @staticmethod
    def drift_outlier(reference: Any, column: str, kind: str = "auto", **kwargs: Any) -> Signal:
        """True for rows from regions the reference never saw (see monitors.drift_signals).

        Provided by the monitors layer, which registers it when imported (``import curate``
        or ``import monitors`` does).
        """
        return constructor("drift_outlier")(reference, column, kind=kind, **kwargs)


_CONSTRUCTORS: dict[str, Callable[..., Signal]] = {}


def register_constructor(name: str, fn: Callable[..., Signal]) -> None:
    """Make ``fn`` the constructor behind ``Signal.<name>`` (for signals of higher layers).

    >>> from curate.signals import Signal
    >>> register_constructor("doc_example", lambda column: Signal.is_null(column))
    >>> str(constructor("doc_example")("x"))
    'is_null(x)'
    >>> del _CONSTRUCTORS["doc_example"]
    """
    _CONSTRUCTORS[name] = fn


def constructor(name: str) -> Callable[..., Signal]:
    """The registered constructor ``name``, or an error saying which package provides it.

    >>> constructor("no_such_signal")
    Traceback (most recent call last):
    ...
    curate.errors.SignalError: Signal.no_such_signal is provided by the monitors package: ...
    """
    try:
        return _CONSTRUCTORS[name]
    except KeyError:
        raise SignalError(
            f"Signal.{name} is provided by the monitors package: import monitors (or curate) "
            "before using it"
        ) from None
