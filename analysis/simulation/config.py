"""What the reader-study simulator draws from: sizes, tier skills, AI, trial behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TierSkill:
    """A tier's readers: skill (separation) mean and spread, threshold offset, read time."""

    separation: float
    separation_sd: float
    threshold_offset: float
    read_time_s: float


@dataclass(frozen=True)
class SimulationConfig:
    """Everything the simulator draws from; the defaults give a paper-sized study."""

    datasets: tuple[tuple[str, int], ...] = (("internal", 199), ("external", 356))
    blind_sweep_cases: int = 111
    prevalence: float = 0.15
    n_junior: int = 9
    n_mid: int = 11
    n_senior: int = 3
    skills: dict[str, TierSkill] = field(
        default_factory=lambda: {
            "junior": TierSkill(1.6, 0.25, 0.1, 60.1),
            "mid_level": TierSkill(2.0, 0.25, 0.0, 63.4),
            "senior": TierSkill(2.8, 0.2, 0.0, 45.0),
        }
    )
    case_difficulty_sd: float = 0.7
    ai_separation: float = 2.8
    ai_threshold: float = 0.5
    ai_read_time_s: float = 28.97
    #: How far a junior leans on the AI when aided (uniform between the two).
    ai_weight: tuple[float, float] = (0.35, 0.65)
    #: Correlation of a reader's own noise between his unaided and aided reads.
    reread_correlation: float = 0.6
    aided_time_factor: float = 0.85
    #: Blinded trial: 0 = perfect blinding, 1 = every guess right.
    unblinding: float = 0.1
    dont_know_rate: float = 0.4
    override_rate: float = 0.85
    #: A senior overrides only when his own read is at least this far from his threshold.
    override_margin: float = 0.5
    secondary_time_s: float = 6.0
    change_time_s: float = 5.0
    #: Readers also give a probability-of-severe rating 0–100 (column ``reader_rating``):
    #: ``round(100·Φ(X − threshold))``, a monotone map of the latent value (≥ 50 exactly
    #: when the call is severe, apart from rounding at the threshold). Draws nothing, so
    #: the rest of the study is the same with or without it.
    ratings: bool = False
    seed: int = 0
