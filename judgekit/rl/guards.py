"""Guards against a policy that learns to fool its judge, run inside the reward scorer (SPEC section 10).

- Canaries: a share of each batch's prompts is also judged with attack responses built by the probe's
  families (judgekit.judging.attacks); their false-positive rate per family (reward > 0) is logged,
  never part of a policy reward, and above `canary_max_fpr` the batch's rewards are masked.
- Audits: a share of the responses is also judged by a second judge with the same rubric; agreement
  per criterion and for the reward, and the mean reward gap (training minus audit), are logged.
- Rubric dropout: per prompt group, a share of the rubric's non-gate criteria is left out, the same
  mask for every response of the group.

Every choice is seeded by (guard_seed, step, prompt), so a rerun makes the same choices.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from judgekit.data.rows import message_text
from judgekit.data.transcript import Text
from judgekit.errors import RowFailure
from judgekit.judge import Judge, JudgeLike, JudgeSpec, judge_or_spec
from judgekit.judging.attacks import FAMILIES, Attack, RowView
from judgekit.judging.judgment import score_item
from judgekit.judging.pointwise import PointwiseItem
from judgekit.judging.results import ScoreResult
from judgekit.llm.engine import map_rows
from judgekit.rl.options import RewardOptions
from judgekit.rubric.models import Rubric

Picked = tuple[str, Rubric]
ItemJudge = Callable[[Rubric, PointwiseItem], Awaitable[ScoreResult]]
REWARD_AGREEMENT_TOLERANCE = 0.1  # two rewards agree when they differ by at most this


def seeded(options: RewardOptions, step: str, what: str, key: str) -> random.Random:
    blob = f"{options.guard_seed}\0{step}\0{what}\0{key}".encode("utf-8", "surrogatepass")
    return random.Random(int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "big"))


def share(items: Sequence[object], rate: float, rng: random.Random) -> list[int]:
    """The positions of `rate` of the items, chosen at random: the count rounded at random, so a batch of one gets its share on average."""
    if rate <= 0 or not items:
        return []
    exact = rate * len(items)
    count = min(len(items), math.floor(exact) + (rng.random() < exact - math.floor(exact)))
    return sorted(rng.sample(range(len(items)), count))


@dataclass
class GuardReport:
    """What the guards measured in one batch: metrics to log, and why its rewards were masked ("" if not)."""

    metrics: dict[str, float] = field(default_factory=dict)
    masked: str = ""


# ---- rubric dropout ----------------------------------------------------------------------------


def drop_criteria(rubric: Rubric, rate: float, rng: random.Random) -> Rubric:
    """The rubric without `rate` of its non-gate criteria (rounded down), never without every positive-weight one."""
    optional = [c for c in rubric.criteria if not c.is_gate]
    dropped = {c.cid for c in rng.sample(optional, math.floor(rate * len(optional)))}
    kept = [c for c in rubric.criteria if c.cid not in dropped]
    if not any(c.weight > 0 for c in kept):
        positive = [c for c in optional if c.weight > 0]
        if positive:
            dropped.discard(rng.choice(positive).cid)
            kept = [c for c in rubric.criteria if c.cid not in dropped]
    if len(kept) == len(rubric.criteria):
        return rubric
    return rubric.model_copy(update={"criteria": tuple(kept)})


def apply_dropout(options: RewardOptions, picked: list[Picked], group_keys: list[str], step: str) -> tuple[list[Picked], float | None]:
    """Each completion's rubric with its group's dropout mask, and the mean share of criteria kept per group."""
    if options.rubric_dropout <= 0:
        return picked, None
    masks: dict[tuple[str, str], Picked] = {}
    kept: list[float] = []
    out = []
    for (key, rubric), group in zip(picked, group_keys):
        if (key, group) not in masks:
            sub = drop_criteria(rubric, options.rubric_dropout, seeded(options, step, "dropout", key + "\0" + group))
            masks[key, group] = (f"{key}\0kept:{','.join(sub.ids)}", sub)
            kept.append(len(sub.criteria) / len(rubric.criteria))
        out.append(masks[key, group])
    return out, sum(kept) / len(kept)


# ---- canaries --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Canary:
    family: str
    rubric: Rubric
    item: PointwiseItem


def build_canaries(options: RewardOptions, picked: list[Picked], prompts: Sequence[Text], completions: Sequence[Text],
                   references: Sequence[Text | None], rows: Sequence[dict[str, Any] | None], group_keys: list[str],
                   step: str) -> list[Canary]:
    """For `canary_rate` of the batch's prompt groups, one attack per family (a seeded variant), built from the
    group's prompt, its first completion (the families that need a real response) and its reference."""
    first: dict[str, int] = {}
    for i, key in enumerate(group_keys):
        first.setdefault(key, i)
    leads = list(first.values())
    chosen = [leads[j] for j in share(leads, options.canary_rate, seeded(options, step, "canary", "batch"))]
    out: list[Canary] = []
    for i in chosen:
        reference = None if references[i] is None else message_text(references[i])
        view = RowView(message_text(prompts[i]), message_text(completions[i]), reference, picked[i][1], dict(rows[i] or {}),
                       options.guard_seed)
        rng = seeded(options, step, "variant", group_keys[i])
        for family in options.families:
            built = [a for a in FAMILIES[family](view) if isinstance(a, Attack)]
            if built:
                attack = rng.choice(built)
                item = PointwiseItem(prompts[i], attack.text, references[i] if attack.with_reference else None, rows[i])
                out.append(Canary(family, picked[i][1], item))
    return out


def canary_metrics(options: RewardOptions, canaries: list[Canary], results: list[ScoreResult], report: GuardReport) -> None:
    """The false-positive rate per family (attacks with a reward only), and the mask when one exceeds the bar."""
    for family in options.families:
        rewards = [r.reward for c, r in zip(canaries, results) if c.family == family and r.reward is not None]
        if rewards:
            report.metrics[f"judgekit/canary_fpr/{family}"] = sum(r > 0 for r in rewards) / len(rewards)
    report.metrics["judgekit/canary_n"] = float(len(canaries))
    bar = options.canary_max_fpr
    prefix = "judgekit/canary_fpr/"
    over = [(k[len(prefix):], v) for k, v in report.metrics.items() if k.startswith(prefix) and bar is not None and v > bar]
    if over:
        family, rate = max(over, key=lambda kv: kv[1])
        report.masked = f"canary: {family} attacks rewarded at a false-positive rate of {rate:.2f} > canary_max_fpr {bar:g}"
    report.metrics["judgekit/canary_masked"] = 1.0 if report.masked else 0.0


async def judge_canaries(judge: Judge, judge_item: ItemJudge, canaries: list[Canary]) -> list[ScoreResult]:
    async def one(c: Canary) -> ScoreResult:
        return await judge_item(c.rubric, c.item)

    def failed(c: Canary, why: RowFailure) -> ScoreResult:
        return ScoreResult(reward=None, scores=dict.fromkeys(c.rubric.ids), unscored={"*": why.reason}, failure=why.kind)

    async def batch() -> list[ScoreResult]:
        return await map_rows(canaries, one, concurrency=judge.config.concurrency, failed=failed)

    return await judge.arun(batch()) if canaries else []


# ---- audits ----------------------------------------------------------------------------------


class Auditor:
    """The audit judge, built on first use in the process that audits (a spec is picklable; a Judge is used as it is)."""

    def __init__(self, judge: JudgeLike) -> None:
        described = judge_or_spec(judge, call="RewardOptions", argument="audit_judge")
        self._spec = described if isinstance(described, JudgeSpec) else None
        self._judge = described if isinstance(described, Judge) else None

    @property
    def judge(self) -> Judge:
        if self._judge is None:
            assert self._spec is not None
            self._judge = self._spec.build()
        return self._judge

    def close(self) -> None:
        """Close the audit judge if it was built here from a spec (a Judge given is its owner's to close)."""
        if self._spec is not None and self._judge is not None:
            self._judge.close()
            self._judge = None

    async def audit(self, items: list[tuple[Rubric, PointwiseItem]]) -> list[ScoreResult | None]:
        """Each item's audit verdicts; None where the audit judge failed (its verdicts abstain)."""
        judge = self.judge

        async def one(entry: tuple[Rubric, PointwiseItem]) -> ScoreResult | None:
            return await score_item(judge.context(), entry[0], entry[1])

        async def batch() -> list[ScoreResult | None]:
            return await map_rows(items, one, concurrency=judge.config.concurrency, failed=lambda e, why: None)

        try:
            return await judge.arun(batch()) if items else []
        except Exception:  # an audit never stops training: its verdicts abstain
            return [None] * len(items)


def audit_metrics(trained: list[ScoreResult], audited: list[ScoreResult | None], report: GuardReport) -> None:
    """Agreement per criterion and for the reward, the mean reward gap (training minus audit), and the
    count of audits without a reward (the gap then omitted: unknown, never a made-up number)."""
    per: dict[str, list[bool]] = {}
    pairs: list[tuple[float, float]] = []
    failed = 0
    for mine, theirs in zip(trained, audited):
        if theirs is None or theirs.reward is None:
            failed += 1
        elif mine.reward is not None:
            pairs.append((mine.reward, theirs.reward))
        for cid, value in mine.scores.items():
            other = theirs.scores.get(cid) if theirs is not None else None
            if value is not None and other is not None:
                per.setdefault(cid, []).append(value == other)
    for cid, agree in per.items():
        report.metrics[f"judgekit/audit_agreement/{cid}"] = sum(agree) / len(agree)
    if pairs:
        report.metrics["judgekit/audit_agreement/reward"] = sum(abs(a - b) <= REWARD_AGREEMENT_TOLERANCE for a, b in pairs) / len(pairs)
        report.metrics["judgekit/audit_reward_gap"] = sum(a - b for a, b in pairs) / len(pairs)
    report.metrics["judgekit/audit_n"] = float(len(audited))
    report.metrics["judgekit/audit_failed"] = float(failed)
