"""Two-sample drift statistics, one module per statistic.

Every function works on what a reference *profile* keeps (sorted samples or quantile sketches,
bin counts) and on one production window, so the raw reference never has to be in memory.

========================  ===================================  ==============================
module                    statistic                            verdict (default threshold)
========================  ===================================  ==============================
:mod:`.ks`                Kolmogorov-Smirnov D and p-value     drift if p < 0.05
:mod:`.psi`               population stability index           drift if PSI > 0.1
:mod:`.wasserstein`       Wasserstein-1 / reference std        drift if > 0.1
:mod:`.chi2`              chi-square test of homogeneity       drift if p < 0.05
:mod:`.js`                Jensen-Shannon distance (base 2)     drift if > 0.1
:mod:`.mmd`               kernel MMD² + permutation p-value    drift if p < 0.05
========================  ===================================  ==============================

:mod:`.auto` maps a column type and a reference size to the methods above and says how each
default threshold is calibrated. Distances over counts (PSI, JS) flag only above the larger of
their threshold and what same-size samples of the reference score (:mod:`.calibrate`); window
state and rows: :mod:`.accumulators`, :mod:`.text_window`, :mod:`.verdicts`; what an alert
names as having moved: :mod:`.contributors`; what a text profile keeps of its texts:
:mod:`.doc_sample`.
"""

from monitors.stats.chi2 import chi2_homogeneity
from monitors.stats.js import js_distance
from monitors.stats.ks import ks_2samp, ks_pvalue, ks_statistic
from monitors.stats.mmd import mmd2_unbiased, mmd_test
from monitors.stats.psi import bin_counts, psi, quantile_edges
from monitors.stats.wasserstein import normed_wasserstein, wasserstein_sorted

__all__ = [
    "bin_counts",
    "chi2_homogeneity",
    "js_distance",
    "ks_2samp",
    "ks_pvalue",
    "ks_statistic",
    "mmd2_unbiased",
    "mmd_test",
    "normed_wasserstein",
    "psi",
    "quantile_edges",
    "wasserstein_sorted",
]
