"""The what-if questions a marketer asks, as request shapes shared by the API, the CLI and the
studio: which logged decisions to replay, a candidate policy to simulate, a knob to sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from suppressor.domain import Strict
from suppressor.errors import Refused
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

    param: Literal["relevance_threshold", "uplift_threshold", "value_threshold", "cap_scale"] | None = Field(
        default=None,
        description="what to sweep: a threshold, or cap_scale (every cap's max times the value); default: the "
        "threshold of the policy's objective",
    )
    values: list[Annotated[float, Field(ge=-1e9, le=1e9)]] | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        description="points to try (default: deciles of the logged score, uplift or value, or cap multipliers); "
        "each must be a value the policy accepts for the parameter",
    )
    changes: dict[str, Any] | None = Field(default=None, description="changes applied before sweeping")
    max_decisions: int = Field(default=5_000, ge=1, le=500_000)


# what each swept parameter may be (the policy's own bounds; cap_scale multiplies every cap's max)
SWEEP_RANGES = {"relevance_threshold": (0.0, 1.0), "uplift_threshold": (-1.0, 1.0), "cap_scale": (0.0, 100.0)}


def check_sweep(param: str, values: list[float]) -> None:
    """Refuse (``Refused`` on ``values``) a point the swept parameter cannot take."""
    low, high = SWEEP_RANGES.get(param, (-1e9, 1e9))
    bad = [(i, v) for i, v in enumerate(values) if not low <= v <= high]
    if bad:
        raise Refused([("values", f"values[{i}] = {v:g}: {param} is between {low:g} and {high:g}") for i, v in bad])
