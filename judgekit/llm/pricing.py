"""What judge calls cost, from a maintained price table (genai-prices, bundled with the package, so
pricing needs no network).

Only hosted models have a price: `openai:MODEL` and `anthropic:MODEL` are looked up at their
provider's list price (also through `--base-url`, e.g. a gateway in front of OpenAI; a server with a
model the table does not know, such as a vLLM server, has no price). The embedded judge and
in-process vLLM run on your own hardware: no price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache

_PROVIDERS = {"openai": "openai", "anthropic": "anthropic"}


@dataclass(frozen=True)
class PriceList:
    provider: str
    model: str

    def cost(self, prompt_tokens: int, completion_tokens: int) -> Decimal:
        from genai_prices import Usage, calc_price  # the price table: loaded on first use

        usage = Usage(input_tokens=prompt_tokens, output_tokens=completion_tokens)
        return calc_price(usage, self.model, provider_id=self.provider).total_price


@dataclass(frozen=True)
class Pricing:
    """The price list of a judge spec (None: no model), or why it has none. The price table is read on
    first use (a priced answer, a --max-cost check, a run's cost), not when a judge is built."""

    spec: str | None = None

    @property
    def prices(self) -> PriceList | None:
        return _lookup(self.spec)[0]

    @property
    def reason(self) -> str | None:
        return _lookup(self.spec)[1]


def pricing_for(spec: str) -> Pricing:
    return Pricing(spec)


@cache
def _lookup(spec: str | None) -> tuple[PriceList | None, str | None]:
    if spec is None:
        return None, "no price given"
    kind, _, model = spec.partition(":")
    provider = _PROVIDERS.get(kind)
    if provider is None or not model:
        return None, f"no price for '{spec}': it runs on your own hardware"
    prices = PriceList(provider, model)
    try:
        prices.cost(0, 0)
    except LookupError:
        return None, f"no price known for '{spec}' (not in the price table)"
    return prices, None
