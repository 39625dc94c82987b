"""Degraded: the store did not answer within the deadline; the service (not the script) answers with
the tenant's failure mode."""

from suppressor.rules import Code, Rule

RULE = Rule(
    name="degraded",
    order=1000,
    section="failure_mode",
    in_script=False,
    codes=(
        Code(
            "degraded",
            "failure mode",
            True,
            "the store did not answer within the deadline (answered by the service, not the script)",
            lambda r, _mv: r["detail"],
        ),
    ),
)
