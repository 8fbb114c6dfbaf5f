"""Multi-reader multi-case (MRMC) analysis: Obuchowski–Rockette and DBM with Hillis df,
a model against random readers, and sample size from pilot variance components.

Hand-written because no maintained Python library has OR or DBM analysis (the reference
implementations are R's MRMCaov and RJafroc, the Iowa OR-DBM MRMC program and the FDA's
iMRMC in Java); the tests hold this package to their published output.

One module per idea: :mod:`~analysis.stats.mrmc.design` (the fully crossed long-format
design and the options), :mod:`~analysis.stats.mrmc.figures` (figures of merit and their
case-sampling covariance), :mod:`~analysis.stats.mrmc.obuchowski_rockette`,
:mod:`~analysis.stats.mrmc.dorfman_berbaum_metz`, :mod:`~analysis.stats.mrmc.model_vs_readers`
and :mod:`~analysis.stats.mrmc.sample_size`. Hillis' denominator df (∞ where MS(T×R) is 0)
and its F test are in :mod:`analysis.stats.hillis`, shared with the power planner.
"""

from analysis.stats.hillis import hillis_ddf
from analysis.stats.mrmc.dorfman_berbaum_metz import mrmc_dbm
from analysis.stats.mrmc.model_vs_readers import mrmc_model_vs_readers
from analysis.stats.mrmc.obuchowski_rockette import mrmc_or, mrmc_or_arrays
from analysis.stats.mrmc.sample_size import mrmc_sample_size

__all__ = [
    "hillis_ddf",
    "mrmc_dbm",
    "mrmc_model_vs_readers",
    "mrmc_or",
    "mrmc_or_arrays",
    "mrmc_sample_size",
]
