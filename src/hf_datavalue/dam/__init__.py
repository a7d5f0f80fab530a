"""DAM: the DataPerf data-acquisition marketplace as a simulator, the official evaluator and buyer strategies.

Higher `score` = better purchase: `0.98 * accuracy + 0.02 * unused budget fraction`. Simulator scores are
comparable only within the simulator, never with the DataPerf leaderboard. See `specs/dam.md` and docs/dam.md.
"""

from ..core.registry import MethodSpec, register_method
from .benchmark import DamBenchmark
from .config import DamConfig
from .evaluator import FALLBACK_RULES, Score, evaluate, official_score
from .marketplace import LinearPrice, Marketplace, SellerData, SellerInfo, SellerSummary, SimulatedMarketplace
from .result import SCORE_COLUMN, SCORE_SEMANTICS, DamResult
from .simulator import Simulator
from .storage import load_markets, load_public_markets, save_markets
from .strategies import Strategy, available_strategies, get_strategy, register_strategy
from .submission import (
    CountRangeError,
    OverBudgetError,
    SubmissionError,
    check_purchase,
    read_submission,
    write_submission,
)

__all__ = [
    "FALLBACK_RULES",
    "SCORE_COLUMN",
    "SCORE_SEMANTICS",
    "CountRangeError",
    "DamBenchmark",
    "DamConfig",
    "DamResult",
    "LinearPrice",
    "Marketplace",
    "OverBudgetError",
    "Score",
    "SellerData",
    "SellerInfo",
    "SellerSummary",
    "SimulatedMarketplace",
    "Simulator",
    "Strategy",
    "SubmissionError",
    "available_strategies",
    "check_purchase",
    "evaluate",
    "get_strategy",
    "load_markets",
    "load_public_markets",
    "official_score",
    "read_submission",
    "register_strategy",
    "save_markets",
    "write_submission",
]

register_method(
    MethodSpec(
        name="dam",
        config_class=DamConfig,
        entry_point=DamBenchmark,
        result_class=DamResult,
        score_column=SCORE_COLUMN,
        score_semantics=SCORE_SEMANTICS,
        card_title="DAM: the DataPerf data-acquisition benchmark (Chen et al., arXiv:2311.13712), simulated",
        card_note=(
            "the official DataPerf score of a buyer strategy's purchase on a simulated marketplace: 0.98 x the "
            "accuracy of LogisticRegression trained on the purchase (10 with-replacement draws) plus 0.02 x the "
            "unused budget fraction; simulator numbers, not DataPerf leaderboard numbers"
        ),
        module=__name__,
        hub_config="dam",
        cli_command="dam",
        exports=("DamConfig", "DamResult", "DamBenchmark"),
    )
)
