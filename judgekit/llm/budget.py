"""A run's spending: its cost so far and its limits (`--max-calls`, `--max-cost`).

A limit is checked before each call is sent; once reached, no further call starts and the run
stops with LimitReached. Calls already in flight still finish and are counted and paid for, so
`max_calls` is never passed and `max_cost` by at most the price of the calls in flight (a run's
`concurrency`, shared by every judge of a panel).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from judgekit.errors import InputError, LimitReached
from judgekit.llm.pricing import Pricing

_RESUME = "; finished rows are kept: run again with --resume to continue"


@dataclass
class Budget:
    max_calls: int | None = None
    max_cost: float | None = None
    spent: Decimal = Decimal(0)
    models: list[Pricing] = field(default_factory=list)  # the run's models (the judge, a generator)
    charged: bool = False  # an answer was paid for (so its model's price was looked up)

    def price_with(self, pricing: Pricing) -> None:
        """Account for a model of the run; a --max-cost needs its price now, else it is looked up on first use."""
        if self.max_cost is not None and pricing.prices is None:
            raise InputError(f"--max-cost needs a priced model; {pricing.reason}", field="--max-cost")
        self.models.append(pricing)

    @property
    def priced(self) -> bool:
        """False when any model of the run has no price."""
        return all(p.prices is not None for p in self.models)

    @property
    def cost_usd(self) -> float | None:
        """Dollars spent so far; None when a model of the run has no price (no call answered: nothing spent)."""
        return float(self.spent) if not self.charged or self.priced else None

    def check(self, calls: int) -> None:
        """Raise LimitReached if a limit leaves no room for one more call (`calls` sent so far)."""
        if self.max_calls is not None and calls >= self.max_calls:
            raise LimitReached(f"stopped at --max-calls {self.max_calls}{_RESUME}")
        if self.max_cost is not None and self.spent >= Decimal(str(self.max_cost)):
            raise LimitReached(f"stopped at --max-cost {self.max_cost:g} USD{_RESUME}")

    def spend(self, pricing: Pricing, prompt_tokens: int, completion_tokens: int) -> None:
        self.charged = True
        if pricing.prices is not None:
            self.spent += pricing.prices.cost(prompt_tokens, completion_tokens)
