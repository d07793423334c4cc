r"""Which statistic to use for which column: column kinds, methods, default thresholds, ``auto``.

Column kinds (inferred from the reference by :func:`infer_kind`, or set with ``kind=``):

* ``numeric``: integers or floats with more than 20 distinct values (timestamps as integers);
* ``categorical``: booleans, numbers with at most 20 distinct values, and strings that are
  mostly one or two words with at most 1,000 distinct values;
* ``text``: other strings (on average three words or more, or more than 1,000 distinct values);
* ``embedding``: lists of numbers (one vector per row).

``method="auto"`` picks, per kind and reference size ``n_ref`` (non-null reference values):

===========  ==================  ===================================  =========================
kind         reference size      method(s)                            drift when
===========  ==================  ===================================  =========================
numeric      n_ref <= 1,000      ``ks``                               p-value < 0.05
numeric      n_ref > 1,000       ``wasserstein`` (normed by ref std)  distance > 0.1
categorical  n_ref <= 1,000      ``chi2``                             p-value < 0.05
categorical  n_ref > 1,000       ``js`` (Jensen-Shannon distance)     distance > 0.1 [*]
text         any                 ``js`` on word frequencies           distance > 0.1 [*]
                                 + ``oov`` (unseen-word share)        > expected + 0.01 [*]
embedding    any                 ``mmd`` (RBF kernel, permutations)   p-value < 0.05
===========  ==================  ===================================  =========================

Why: with a small reference a calibrated test is the only reading that does not fire on noise;
with a large reference and windows of thousands of rows a test flags shifts far too small to
matter (a KS test on 5,000 rows detects a 0.05-sigma shift), so a distance with an interpretable
threshold (0.1 reference standard deviations, 0.1 JS) is used instead, as Evidently does. Every
method and threshold can be set in the check (``method``, ``threshold``).

How each default threshold is calibrated (what a window scores when nothing drifted):

* p-values (``ks``, ``chi2``, ``mmd``) are calibrated by construction: without drift, a window
  is flagged with probability 0.05 (the asymptotic Kolmogorov distribution for sizes ``n`` and
  ``m``; the chi-square distribution over the bins the window supports; permutations). ``chi2``
  compares only bins a window supports (:func:`~monitors.stats.verdicts.supported_bins`:
  expected count >= 5, a reference count that is not just luck,
  :func:`~monitors.stats.verdicts.reliable_count`) and pools all other values, unseen ones
  included, in one tail bin, so new values in a fresh sample do not make it fire.
* [*] ``js`` and ``psi`` (and ``length``) are effect sizes with a floor: the configured value
  (0.1) is the *minimum effect*; the threshold is the larger of it and the 99.99% quantile of
  the distance between same-size samples of the reference (:mod:`monitors.stats.calibrate`):
  drawn from the reference's shares for one-value rows (categorical; numeric bins), resampling
  whole reference texts for text (words are bursty). Values the reference lacks fall in the
  tail bin, whose expected share is the same for fresh data and for a resample of the
  reference. On real text (``tests/test_real_text.py``: 3,000 review snippets of reference),
  windows of other snippets score JS 0.02-0.05, windows of 500 or more headlines, political
  speeches or lines of Hamlet 0.13-0.25 (at 100 rows, headlines 0.12-0.19, the others from
  0.04: too few words to tell them apart from reviews).
* [*] ``oov``: the share of window words missing from the reference vocabulary, against the
  share expected of new text (document-level Good-Turing: the reference words found in only
  one of its texts); drift when above it by more than the larger of 0.01 and 3.72 standard
  deviations (window resampling plus the estimate's own error).
* ``wasserstein`` (0.1 reference standard deviations) and ``empty`` (reference share + 0.05,
  raised to 3.72 binomial sd) are fixed effect sizes. Without drift, the Wasserstein distance of
  a window of ``n`` rows reads about :math:`1.3 / \sqrt{n}` standard deviations for normal data
  (0.018 for 5,000 rows, 0.13 for 100 rows): below ~1,000 rows per window use ``ks``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

KINDS = ("numeric", "categorical", "text", "embedding")

METHODS: dict[str, tuple[str, ...]] = {
    "numeric": ("ks", "wasserstein", "psi", "chi2", "js"),
    "categorical": ("chi2", "js", "psi"),
    "text": ("js", "oov", "psi", "length", "empty"),
    "embedding": ("mmd",),
}

DEFAULT_THRESHOLDS: dict[str, float] = {
    "ks": 0.05,
    "chi2": 0.05,
    "mmd": 0.05,
    "psi": 0.1,
    "wasserstein": 0.1,
    "js": 0.1,
    "oov": 0.01,
    "length": 0.1,
    "empty": 0.05,
}

#: Methods whose verdict is a p-value below the threshold (the others: a value above it).
PVALUE_METHODS = frozenset({"ks", "chi2", "mmd"})

SMALL_REFERENCE = 1000
MAX_NUMERIC_CATEGORIES = 20
MAX_STRING_CATEGORIES = 1000


def auto_methods(kind: str, n_ref: int) -> tuple[str, ...]:
    """The ``auto`` choice for a column kind and reference size.

    >>> auto_methods("numeric", 500), auto_methods("numeric", 50_000)
    (('ks',), ('wasserstein',))
    >>> auto_methods("text", 10)
    ('js', 'oov')
    """
    if kind == "numeric":
        return ("ks",) if n_ref <= SMALL_REFERENCE else ("wasserstein",)
    if kind == "categorical":
        return ("chi2",) if n_ref <= SMALL_REFERENCE else ("js",)
    if kind == "text":
        return ("js", "oov")
    if kind == "embedding":
        return ("mmd",)
    raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")


def resolve_methods(method: str | Sequence[str], kind: str, n_ref: int) -> tuple[str, ...]:
    """Validate ``method`` (a name, ``"auto"`` or a list) for a column kind.

    >>> resolve_methods(["ks", "psi"], "numeric", 10)
    ('ks', 'psi')
    >>> resolve_methods("mmd", "numeric", 10)
    Traceback (most recent call last):
    ...
    ValueError: method 'mmd' does not apply to a numeric column; choose from auto, ks, wasserstein, psi, chi2, js
    """
    names = [method] if isinstance(method, str) else list(method)
    if not names:
        raise ValueError("method must name at least one statistic (or 'auto')")
    out: list[str] = []
    for name in names:
        if name == "auto":
            out.extend(auto_methods(kind, n_ref))
        elif name in METHODS.get(kind, ()):
            out.append(name)
        else:
            raise ValueError(
                f"method {name!r} does not apply to a {kind} column; choose from auto, "
                + ", ".join(METHODS.get(kind, ()))
            )
    return tuple(dict.fromkeys(out))


def infer_kind(arr: pa.Array) -> str:
    """The column kind of a reference column (see the module docstring).

    >>> infer_kind(pa.array([1.5, 2.5] * 20)), infer_kind(pa.array(["a b c d"] * 3))
    ('categorical', 'text')
    """
    import pyarrow.compute as pc

    t = arr.type
    if pa.types.is_dictionary(t):
        arr, t = arr.dictionary_decode(), t.value_type
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "embedding"
    if pa.types.is_boolean(t):
        return "categorical"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_temporal(t):
        distinct = pc.count_distinct(arr).as_py()
        return "categorical" if distinct <= MAX_NUMERIC_CATEGORIES else "numeric"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        from monitors.stats.text import tokenize

        _, rows = tokenize(arr)
        non_null = max(len(arr) - arr.null_count, 1)
        distinct = pc.count_distinct(arr).as_py()
        if len(rows) / non_null >= 3 or distinct > MAX_STRING_CATEGORIES:
            return "text"
        return "categorical"
    raise ValueError(f"cannot monitor drift of a column of type {t}; give kind= explicitly")
