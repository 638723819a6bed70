"""From judging outcomes to output rows: the one place each result row is made."""

from __future__ import annotations

from typing import TYPE_CHECKING

from judgekit.judging.results import CompareResult, RankResult, RowId, ScoreResult

if TYPE_CHECKING:
    from judgekit.judging.pairwise import PairOutcome
    from judgekit.judging.ranking import RankOutcome


def score_result(row_id: RowId, outcome: ScoreResult, explain: bool) -> ScoreResult:
    """The output row of one scored response: its judgment under the row's id; reasoning and thinking
    only with `explain`."""
    return ScoreResult(
        id=row_id,
        reward=outcome.reward,
        coverage=outcome.coverage,
        scores=outcome.scores,
        unscored=outcome.unscored,
        not_applicable=outcome.not_applicable,
        ratings=outcome.ratings,
        explanations=dict(outcome.explanations or {}) if explain else None,
        soft=outcome.soft,
        soft_reward=outcome.soft_reward if outcome.soft is not None else None,
        thinking=outcome.thinking if explain else None,
        generated_criteria=outcome.generated_criteria,
        decided_by=outcome.decided_by,
    )


def compare_result(row_id: RowId, outcome: PairOutcome, explain: bool) -> CompareResult:
    """The output row of one judged pair; reasoning and thinking only with `explain`."""
    return CompareResult(
        id=row_id, winner=outcome.winner, margin=outcome.margin, preferences=outcome.preferences,
        inconsistent=outcome.inconsistent, unscored=outcome.unscored, not_applicable=list(outcome.not_applicable) or None,
        explanations=dict(outcome.reasoning) if explain else None, soft=outcome.soft,
        thinking=outcome.thinking if explain else None, adaptive_criteria=outcome.adaptive_criteria,
        generated_criteria=outcome.generated_criteria, decided_by=outcome.decided_by,
    )


def rank_result(row_id: RowId, outcome: RankOutcome, strategy: str) -> RankResult:
    """The output row of one ranked group; preference cycles only with the round-robin strategy."""
    return RankResult(id=row_id, rewards=outcome.rewards, scores=outcome.scores, coverage=outcome.coverage,
                      cycles=outcome.cycles if strategy == "round_robin" else None,
                      generated_criteria=outcome.generated_criteria, adaptive_criteria=outcome.adaptive_criteria)
