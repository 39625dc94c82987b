"""The what-if questions a marketer asks, as request shapes shared by the API, the CLI and the
studio: which logged decisions to replay, a candidate policy to simulate, a knob to sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from suppressor.domain import Strict
from suppressor.policy.document import Policy, parse_duration


def when(v: Any) -> Any:
    """'14d' (that long ago) or an ISO-8601 time."""
    if isinstance(v, str) and v and v[-1] in "smhdw" and v[:-1].strip().isdigit():
        return datetime.now(UTC) - timedelta(seconds=parse_duration(v))
    return v


When = Annotated[datetime, BeforeValidator(when), AfterValidator(lambda d: d if d.tzinfo else d.replace(tzinfo=UTC))]


class Window(Strict):
    """Which logged decisions to replay."""

    since: When | None = Field(default=None, description="ISO time, or a duration like '14d' meaning that long ago")
    until: When | None = None
    max_decisions: int = Field(
        default=20_000,
        ge=1,
        le=500_000,
        description="replay a stable sample of whole customers up to this many decisions",
    )

    def load(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "max_decisions": self.max_decisions}


class SimulateRequest(Window):
    """The body of POST /v1/policy:simulate: a candidate as a whole policy or as changes."""

    policy: Policy | None = Field(default=None, description="a whole tenant policy, as for PUT /v1/policy")
    changes: dict[str, Any] | None = Field(default=None, description="fields to change, as for PATCH /v1/policy")
    examples: int = Field(default=20, ge=0, le=200, description="changed decisions to show")

    @model_validator(mode="after")
    def _one(self) -> SimulateRequest:
        if self.policy is not None and self.changes is not None:
            raise ValueError("give either policy or changes, not both")
        return self


class TradeoffRequest(Window):
    """The body of POST /v1/policy:tradeoff."""

    param: Literal["relevance_threshold", "cap_scale"] = "relevance_threshold"
    values: list[Annotated[float, Field(ge=0.0, le=100.0)]] | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        description="points to try (default: score deciles, or cap multipliers)",
    )
    changes: dict[str, Any] | None = Field(default=None, description="changes applied before sweeping")
    max_decisions: int = Field(default=5_000, ge=1, le=500_000)

    @model_validator(mode="after")
    def _range(self) -> TradeoffRequest:
        if self.param == "relevance_threshold" and any(v > 1 for v in self.values or ()):
            raise ValueError("values: a relevance threshold is between 0 and 1")
        return self
