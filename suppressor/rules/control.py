"""Control: `incrementality.control_share` of would-be sends is withheld at random and logged with
that probability, so what each message adds is measured continuously (GET /v1/incrementality)
against the customers who did not get it. Transactional messages and holdout customers are exempt
(the holdout measures the policy; the control measures each message)."""

from suppressor.rules import Code, Rule

RULE = Rule(
    name="control",
    order=150,
    section="incrementality",
    params=lambda p: {"incrementality": {"control_share": p.incrementality.control_share}},
    codes=(
        Code(
            "control",
            "suppress",
            True,
            "withheld at random for the control group (`incrementality.control_share` "
            "of would-be sends, logged with that probability) to measure what the message adds",
            lambda r, _mv: (
                f"withheld at random for the control group ({r['share']:.0%} of would-be sends on "
                f"{r['channel']}): it measures what this message adds"
            ),
        ),
    ),
)
