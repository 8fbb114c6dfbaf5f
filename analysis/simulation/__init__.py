"""A Roe–Metz-style reader simulator for NCLS reader studies (pure, no Django).

Every read is a latent decision variable ``X = truth·μ_r + s_c·d_c + ε_rc``: ``μ_r`` is
the reader's skill (the separation of severe from non-severe cases, drawn per reader
around its tier's mean), ``d_c`` the case's own difficulty (shared by every reader and
the AI, which makes readers' errors correlated, as in Roe & Metz 1997; ``s_c`` is −1 for
a severe and +1 for a non-severe case, so a difficult case looks like the other class)
and ``ε_rc`` reader × case noise. A reader calls a case severe when ``X`` passes his own
threshold; his confidence grows with the distance from it. The AI is one more reader
with a probability. In an AI-assisted re-read a junior leans on the AI's latent value
with his own weight, so aided juniors are better in expectation whenever the AI is.

The blinded source trial: each senior reviews every case with material (initial
diagnosis) from the AI or from a junior of his group, at random; he guesses the source
(correct with probability ``(1 + unblinding)/2`` when he does not answer "don't know"),
then keeps the initial diagnosis unless his own read disagrees and he overrides it.
Qualitative scores: two raters × four criteria, 1–5, from a per-case quality.

Modules: :mod:`.config`, :mod:`.cases`, :mod:`.readers` (the latent reader model and its
reads), :mod:`.blinded` (the source trial), :mod:`.qualitative`, :mod:`.study` (a whole
study), :mod:`.roe_metz` (the textbook two-modality model for power checks).

References
----------
Roe CA, Metz CE. Dorfman-Berbaum-Metz method for statistical analysis of multireader,
multimodality receiver operating characteristic data: validation with computer
simulation. Acad Radiol 1997;4:298–303.
"""

from analysis.simulation.cases import simulate_cases
from analysis.simulation.config import SimulationConfig, TierSkill
from analysis.simulation.readers import latent_rating
from analysis.simulation.roe_metz import RoeMetzConfig, roe_metz_reader_moments, simulate_roe_metz
from analysis.simulation.study import simulate_study

__all__ = [
    "RoeMetzConfig",
    "SimulationConfig",
    "TierSkill",
    "latent_rating",
    "roe_metz_reader_moments",
    "simulate_cases",
    "simulate_roe_metz",
    "simulate_study",
]
