"""The reference for bench/single.py: a bare FastAPI endpoint that validates a decision request
and answers a decision of the same shape, deciding nothing (no store, no auth, no policy)."""

from datetime import UTC, datetime

from fastapi import FastAPI

from suppressor.domain import Action, Decision, DecisionRequest

app = FastAPI()


@app.post("/v1/decisions", response_model=Decision)
async def decide(req: DecisionRequest) -> Decision:
    """The same shapes in and out as suppressor's POST /v1/decisions."""
    return Decision(
        decision_id="d_0." + req.customer_id,
        customer_id=req.customer_id,
        message_id=req.message.message_id,
        action=Action.send,
        channel=req.message.channel,
        requested_channel=req.message.channel,
        score=0.5,
        channel_scores={req.message.channel: 0.5},
        reasons=[{"code": "relevant", "message": "score 0.500 on email meets the threshold 0.080"}],
        policy_version=1,
        model_version="v1",
        decided_at=datetime.now(UTC),
    )
