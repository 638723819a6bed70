"""A run's spending: its cost so far and its limits (`--max-calls`, `--max-cost`).

A limit is checked before each call is sent; once reached, no further call starts and the run
stops with LimitReached. Calls already in flight still finish and are counted and paid for, so
`max_calls` is never passed and `max_cost` by at most the price of the calls in flight (a run's
`concurrency`, shared by every judge of a panel).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from judgekit.errors import InputError, LimitReached
from judgekit.llm.pricing import Pricing

_RESUME = "; finished rows are kept: run again with --resume to continue"


@dataclass
class Budget:
    max_calls: int | None = None
    max_cost: float | None = None
    spent: Decimal = Decimal(0)
    priced: bool = True
    """False once any model of the run has no price: then the cost is unknown (None)."""

    def price_with(self, pricing: Pricing) -> None:
        """Account for a model of the run (the judge, a generator)."""
        if pricing.prices is None:
            if self.max_cost is not None:
                raise InputError(f"--max-cost needs a priced model; {pricing.reason}", field="--max-cost")
            self.priced = False

    @property
    def cost_usd(self) -> float | None:
        """Dollars spent so far; None when a model of the run has no price."""
        return float(self.spent) if self.priced else None

    def check(self, calls: int) -> None:
        """Raise LimitReached if a limit leaves no room for one more call (`calls` sent so far)."""
        if self.max_calls is not None and calls >= self.max_calls:
            raise LimitReached(f"stopped at --max-calls {self.max_calls}{_RESUME}")
        if self.max_cost is not None and self.spent >= Decimal(str(self.max_cost)):
            raise LimitReached(f"stopped at --max-cost {self.max_cost:g} USD{_RESUME}")

    def spend(self, pricing: Pricing, prompt_tokens: int, completion_tokens: int) -> None:
        if pricing.prices is not None:
            self.spent += pricing.prices.cost(prompt_tokens, completion_tokens)
