"""A panel's verdicts: every judge answers each question on its own, the votes make one verdict.

`PanelCollector` is a VerdictCollector to everything above it (pointwise, pairwise, ranking,
rubric authoring), so a panel judges wherever one judge does. Its own runner, profile and
settings are its first judge's: criteria written on the fly (rubric-rm, --adaptive, rubric
generation) are written by that judge. A judge that fails on a criterion (unscored) abstains and
is no vote; with no vote left the criterion is unscored, each judge's reason kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from judgekit.judging.agreement import AgreementLog
from judgekit.judging.verdicts import CriterionVerdict, Render, VerdictCollector
from judgekit.judging.votes import Aggregate, Vote, decide
from judgekit.llm.fanout import gather_all
from judgekit.llm.usage import ScopeUsage
from judgekit.protocol.wire import Forms, Mode


@dataclass(frozen=True)
class Juror:
    collector: VerdictCollector
    weight: float
    name: str  # how reasons and reasoning name this judge: "judge 2 (openai:m)"


class PanelCollector(VerdictCollector):
    def __init__(self, jurors: list[Juror], aggregate: Aggregate, agreement: AgreementLog | None) -> None:
        lead = jurors[0].collector
        super().__init__(lead.runner, lead.cache, max_reasks=lead.max_reasks, sampling=lead.sampling,
                         mask_names=lead.mask_names, profile=lead.profile, thinking=lead.thinking,
                         samples=lead.samples, agreement=agreement, view=lead.view)
        self.jurors, self.aggregate = jurors, aggregate

    def per_call(self, mode: Mode, requested: str | int) -> str | int:
        """One criterion per call when any judge's profile needs it (its native format)."""
        answers = {j.collector.per_call(mode, requested) for j in self.jurors}
        return "one" if "one" in answers else requested

    def counting_into(self, scope: ScopeUsage) -> PanelCollector:
        jurors = [Juror(j.collector.counting_into(scope), j.weight, j.name) for j in self.jurors]
        return PanelCollector(jurors, self.aggregate, self.agreement)

    async def collect(self, question: Render, mode: Mode, ids: list[str], *, soft: bool = False,
                      forms: Forms | None = None) -> dict[str, CriterionVerdict]:
        answers = await gather_all(*(j.collector.collect(question, mode, ids, soft=soft, forms=forms) for j in self.jurors))
        return {cid: self._verdict(cid, [a[cid] for a in answers], mode) for cid in ids}

    def _verdict(self, cid: str, verdicts: list[CriterionVerdict], mode: Mode) -> CriterionVerdict:
        if self.agreement is not None:
            self.agreement.add_panel(cid, [v.value for v in verdicts])
        voters = [(j, v) for j, v in zip(self.jurors, verdicts) if v.value is not None]
        value, why = decide([Vote(v.value, j.weight) for j, v in voters], self.aggregate,  # type: ignore[arg-type]
                            pairwise=mode == "pairwise")
        if not voters:
            why = "no judge gave a verdict: " + "; ".join(f"{j.name}: {v.reason}" for j, v in zip(self.jurors, verdicts))
        reasoning = " | ".join(f"[{j.name}] {v.reasoning}" for j, v in voters if v.reasoning)
        thinking = " | ".join(f"[{j.name}] {v.thinking}" for j, v in voters if v.thinking)
        return CriterionVerdict(value, reasoning, why, dist=_mean_dist(voters), thinking=thinking)


def _mean_dist(voters: list[tuple[Juror, CriterionVerdict]]) -> dict[str, float] | None:
    """The weighted mean of the voters' distributions, when every voter has one."""
    if not voters or any(v.dist is None for _, v in voters):
        return None
    total = sum(j.weight for j, _ in voters)
    keys = {k for _, v in voters for k in v.dist or {}}
    return {k: sum(j.weight * (v.dist or {}).get(k, 0.0) for j, v in voters) / total for k in keys}
