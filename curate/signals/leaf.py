"""The leaves of signal formulas: user functions, vectorised functions and built-ins.

* :class:`FunctionSignal` wraps an UpTrain-style batch function
  ``fn(inputs, outputs, gts=None, extra_args=None)``; ``Signal(name, fn)`` and ``@signal``
  build one.
* :class:`ArrowSignal` wraps ``fn(batch)`` over the whole :class:`~curate.batch.Batch`.
* :class:`Builtin` is the base of the library's own leaves (``Signal.contains`` etc.); each
  concrete subclass registers itself in :data:`BUILTINS` when defined and declares the
  parameters the shared contract test (``tests/test_signal_contract.py``) builds it with.

>>> from curate.signals import Signal
>>> leaf = Signal("short", lambda inputs, outputs, gts=None, extra_args=None: [True])
>>> isinstance(leaf, FunctionSignal), isinstance(leaf, Signal)
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from curate.errors import SignalError
from curate.signals.node import Cache, Signal
from curate.signals.values import check_values

BatchFn = Callable[..., Sequence[Any]]

#: Batch functions of signals named by their key: ``Signal(key, is_model_signal=True)``
#: (``curate.compat`` registers UpTrain's ``ModelSignal`` members).
MODEL_SIGNALS: dict[Any, BatchFn] = {}


class FunctionSignal(Signal):
    """A leaf computed by a user batch function ``fn(inputs, outputs, gts=None, extra_args=None)``.

    ``inputs`` maps each column to a numpy array (strings as ``str``, missing values as
    ``None``); ``fn`` returns one bool or number per row.

    >>> import numpy as np
    >>> from curate.batch import Batch
    >>> nike = FunctionSignal("Is Nike?", lambda inputs, outputs, gts=None, extra_args=None:
    ...                       ["nike" in (t or "").lower() for t in inputs["text"]])
    >>> b = Batch.from_log(np.arange(2), np.zeros(2, np.int64), {"text": ["Nike Air", None]})
    >>> str(nike), nike.evaluate(b).tolist()
    ("'Is Nike?'", [True, False])
    """

    __slots__ = ("fn", "extra_args")
    fn: Callable[..., Any]
    extra_args: dict[str, Any]

    def __init__(
        self,
        name: Any,
        fn: BatchFn | None = None,
        is_model_signal: bool = False,
        extra_args: dict[str, Any] | None = None,
    ) -> None:
        # UpTrain's spelling: fixed ``extra_args`` for ``fn``, and named model signals.
        if fn is None and is_model_signal:
            if name not in MODEL_SIGNALS:
                raise TypeError(f"no model signal named {name!r}; known: {list(MODEL_SIGNALS)}")
            fn, name = MODEL_SIGNALS[name], str(name)
        if not isinstance(name, str) or not name:
            raise TypeError(f"Signal name must be a non-empty string, got {name!r}")
        if not callable(fn):
            raise TypeError(f"Signal {name!r}: fn must be callable, got {type(fn).__name__}")
        self._set(name=name, fn=fn, extra_args=dict(extra_args or {}))

    def _compute(self, batch: Any, cache: Cache) -> np.ndarray:
        try:
            values = self.fn(
                batch.python_inputs(),
                batch.python_part("outputs"),
                gts=batch.python_part("gts"),
                extra_args={**(batch.extra_args or {}), **self.extra_args}
                if self.extra_args
                else batch.extra_args,
            )
        except Exception as exc:
            raise SignalError(f"signal {self.name!r} raised {type(exc).__name__}: {exc}") from exc
        return check_values(self, values, len(batch))


class ArrowSignal(FunctionSignal):
    """A leaf computed by ``fn(batch)`` with vectorised code (Arrow, numpy, rapidfuzz).

    >>> import numpy as np
    >>> from curate.batch import Batch
    >>> first = ArrowSignal("first", lambda batch: batch.ids == 0)
    >>> first.evaluate(Batch.from_log(np.arange(2), np.zeros(2, np.int64), {"x": [1, 2]})).tolist()
    [True, False]
    """

    __slots__ = ()

    def _compute(self, batch: Any, cache: Cache) -> np.ndarray:
        try:
            values = self.fn(batch)
        except SignalError:
            raise
        except Exception as exc:
            raise SignalError(f"signal {self.name!r} raised {type(exc).__name__}: {exc}") from exc
        return check_values(self, values, len(batch))


def signal(name: str | BatchFn | None = None) -> Any:
    """Decorator that turns a batch function into a :class:`Signal`.

    >>> @signal("Is it short?")
    ... def short(inputs, outputs, gts=None, extra_args=None):
    ...     return [len(t or "") < 5 for t in inputs["text"]]
    >>> str(short)
    "'Is it short?'"
    """
    if callable(name):
        return FunctionSignal(name.__name__, name)

    def wrap(fn: BatchFn) -> Signal:
        return FunctionSignal(name or fn.__name__, fn)

    return wrap


def batch_column(sig: Signal, batch: Any, column: str) -> Any:
    """The Arrow column ``column`` of a batch, looked up in inputs, then outputs/gts/identifiers.

    A missing column is a :class:`SignalError` naming the signal and the logged columns.
    """
    try:
        return batch[column]
    except KeyError as exc:
        raise SignalError(f"signal {str(sig)!r}: {exc.args[0]}") from None


BUILTINS: dict[str, type[Builtin]] = {}
"""Every concrete built-in leaf class, by ``module.qualname``, in definition order."""


class Builtin(Signal):
    """A leaf over one ``column`` whose values come from ``values(batch)``, with a call-like name.

    Defining a subclass registers it in :data:`BUILTINS` (pass ``abstract=True`` in the class
    statement for an intermediate base). Each concrete subclass declares, on itself,
    ``@classmethod _unit_test_params(cls)`` yielding constructor keyword arguments for the
    contract batch, whose columns are ``text`` (strings with None, empty and non-ASCII
    values), ``number`` (floats with NaN), ``category`` (strings), ``embedding`` (float vectors)
    and ``outputs`` (class probabilities per row).

    >>> from curate.signals.builtins import Contains
    >>> BUILTINS["curate.signals.builtins.Contains"] is Contains
    True
    >>> next(Contains._unit_test_params())
    {'term': 'nike'}
    """

    __slots__ = ("column",)
    column: str

    def __init_subclass__(cls, abstract: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not abstract:
            BUILTINS[f"{cls.__module__}.{cls.__qualname__}"] = cls

    def __init__(self, name: str, column: str) -> None:
        self._set(name=name, column=column)

    def values(self, batch: Any) -> Any:  # pragma: no cover - interface
        """The raw values of every row of ``batch`` (checked by ``check_values``)."""
        raise NotImplementedError

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:  # pragma: no cover - interface
        """Constructor keyword arguments the shared contract test builds this class with."""
        raise NotImplementedError(f"built-in signal {cls.__name__} declares no _unit_test_params()")

    def _compute(self, batch: Any, cache: Cache) -> np.ndarray:
        return check_values(self, self.values(batch), len(batch))
