"""The key layout is a contract with every deployed Redis: pin it."""

from redis.crc import key_slot

from suppressor.storage import keys


def test_customer_keys_are_pinned_and_share_one_slot():
    assert keys.customer_keys("acme", "c-42") == [
        "sup:{acme:c-42}:profile",
        "sup:{acme:c-42}:ev",
        "sup:{acme:c-42}:evt",
        "sup:{acme:c-42}:vec",
        "sup:{acme:c-42}:sends",
        "sup:{acme:c-42}:offers",
        "sup:{acme:c-42}:state",
        "sup:{acme:c-42}:pending",
        "sup:{acme:c-42}:blocked",
        "sup:{acme:c-42}:verdicts",
        "sup:{acme:c-42}:vexp",
        "sup:{acme:c-42}:recent",
        "sup:{acme:c-42}:consent",
    ]
    assert set(keys.decision_keys("acme", "c-42")) <= set(keys.customer_keys("acme", "c-42"))
    t, c = "acme", "c:42}{x"
    assert keys.decision_keys(t, c) == [
        keys.profile(t, c),
        keys.vectors(t, c),
        keys.sends(t, c),
        keys.offers(t, c),
        keys.state(t, c),
        keys.pending(t, c),
        keys.blocked_topics(t, c),
        keys.verdicts(t, c),
        keys.verdicts_expiry(t, c),
    ]
    assert keys.ingest_keys(t, c) == [
        keys.events(t, c),
        keys.events_by_time(t, c),
        keys.profile(t, c),
        keys.state(t, c),
        keys.pending(t, c),
        keys.blocked_topics(t, c),
    ]
    slots = {key_slot(k.encode()) for k in keys.customer_keys("acme", "c-42")}
    assert len(slots) == 1


def test_tenant_keys_are_pinned_and_share_one_slot():
    tenant_keys = [
        keys.customers_index("acme"),
        keys.policy("acme"),
        keys.policy_history("acme"),
        keys.decision_log("acme"),
        keys.model_active("acme"),
        keys.model_seq("acme"),
        keys.models("acme"),
        keys.model_arrays("acme", "v3"),
        keys.train_job("acme", "j1"),
        keys.content("acme"),
        keys.content_version("acme"),
    ]
    assert tenant_keys == [
        "sup:{acme}:customers",
        "sup:{acme}:policy",
        "sup:{acme}:policy:history",
        "sup:{acme}:decisions",
        "sup:{acme}:model:active",
        "sup:{acme}:model:seq",
        "sup:{acme}:models",
        "sup:{acme}:model:v3",
        "sup:{acme}:job:j1",
        "sup:{acme}:content",
        "sup:{acme}:content:version",
    ]
    assert len({key_slot(k.encode()) for k in tenant_keys}) == 1


def test_customer_ids_with_colons_stay_in_their_own_tag():
    # "acme" + "x:y" must not collide with tenant "acme:x" (tenant names cannot hold ':')
    assert keys.profile("acme", "x:y") == "sup:{acme:x:y}:profile"
    assert key_slot(keys.profile("acme", "x:y").encode()) == key_slot(keys.vectors("acme", "x:y").encode())


def test_household_keys_are_pinned_share_one_slot_and_cannot_meet_a_customers():
    assert keys.household_keys("acme", "hh-7") == [
        "sup:{acme~hh~hh-7}:sends",
        "sup:{acme~hh~hh-7}:sent",
        "sup:{acme~hh~hh-7}:offers",
        "sup:{acme~hh~hh-7}:purchases",
        "sup:{acme~hh~hh-7}:members",
    ]
    assert len({key_slot(k.encode()) for k in keys.household_keys("acme", "a}b")}) == 1
    # tenant names hold no '~' or ':', so a household tag is never a customer's ({acme:...}) or a tenant's
    assert not set(keys.household_keys("acme", "c-1")) & set(keys.customer_keys("acme", "~hh~c-1"))


def test_webhook_and_contact_keys_are_pinned_and_contact_shards_spread():
    assert [keys.HOOKS, keys.hooks("acme"), keys.hook_stats("acme", "h1")] == [
        "sup:hooks",
        "sup:{acme}:hooks",
        "sup:{acme}:hooks:stats:h1",
    ]
    assert keys.contacts("acme", 3) == "sup:{acme~cp~3}:contacts"
    assert len({key_slot(keys.contacts("acme", n).encode()) for n in range(16)}) > 8  # spread over nodes
