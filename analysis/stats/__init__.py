"""Reader-study statistics (pure functions, no Django).

Every statistic the NCLS paper reports plus the MRMC analysis that is the field's
standard. Conventions: shared/DESIGN.md, "Statistics conventions".
"""

from analysis.stats._checks import has_both_classes
from analysis.stats.agreement import cohen_kappa, fleiss_kappa
from analysis.stats.blinding import bang_blinding_index, james_blinding_index
from analysis.stats.bootstrap import (
    bootstrap_ci,
    reader_case_bootstrap,
    reader_case_bootstrap_metrics,
    resample_counts,
)
from analysis.stats.classic import (
    benjamini_hochberg,
    chi_square,
    contingency_test,
    fisher_exact,
    kruskal_wallis,
    mann_whitney,
    paired_t,
    welch_t,
    wilcoxon_signed_rank,
)
from analysis.stats.mrmc import (
    hillis_ddf,
    mrmc_dbm,
    mrmc_model_vs_readers,
    mrmc_or,
    mrmc_sample_size,
)
from analysis.stats.proportions import (
    BINARY_METRICS,
    binary_metrics,
    binary_metrics_by_reader,
    clopper_pearson,
    clopper_pearson_limits,
    proportion_difference,
)
from analysis.stats.results import (
    AUCResult,
    BinaryMetrics,
    BlindingIndexResult,
    ConfidenceInterval,
    DBMResult,
    Estimate,
    KappaResult,
    ModelVsReadersResult,
    MRMCResult,
    SampleSizeResult,
    TestResult,
)
from analysis.stats.roc import (
    delong_test,
    delong_test_mean,
    delong_test_unpaired,
    roc_auc,
    roc_curve_points,
)

__all__ = [
    "BINARY_METRICS",
    "AUCResult",
    "BinaryMetrics",
    "BlindingIndexResult",
    "ConfidenceInterval",
    "DBMResult",
    "Estimate",
    "KappaResult",
    "MRMCResult",
    "ModelVsReadersResult",
    "SampleSizeResult",
    "TestResult",
    "bang_blinding_index",
    "benjamini_hochberg",
    "binary_metrics",
    "binary_metrics_by_reader",
    "bootstrap_ci",
    "chi_square",
    "clopper_pearson",
    "clopper_pearson_limits",
    "cohen_kappa",
    "contingency_test",
    "delong_test",
    "delong_test_mean",
    "delong_test_unpaired",
    "fisher_exact",
    "fleiss_kappa",
    "has_both_classes",
    "hillis_ddf",
    "james_blinding_index",
    "kruskal_wallis",
    "mann_whitney",
    "mrmc_dbm",
    "mrmc_model_vs_readers",
    "mrmc_or",
    "mrmc_sample_size",
    "paired_t",
    "proportion_difference",
    "reader_case_bootstrap",
    "reader_case_bootstrap_metrics",
    "resample_counts",
    "roc_auc",
    "roc_curve_points",
    "welch_t",
    "wilcoxon_signed_rank",
]
