"""What the OpenAPI document tells an integrator of deciding by an objective (engagement, uplift, value)."""

from suppressor.api.app import create_app


def test_the_choose_operation_says_it_ranks_by_the_policy_objective(settings, store):
    """A choice ranks by the objective's measure (score, uplift or value) times priority; the generated client's
    docstring comes from this description, so it must not say priority x score alone."""
    op = create_app(settings, store).openapi()["paths"]["/v1/decisions:choose"]["post"]
    said = op.get("description", "") + op.get("summary", "")
    assert "objective" in said and "uplift" in said, said
