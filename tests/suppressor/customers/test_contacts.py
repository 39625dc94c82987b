"""Contact points: a profile's e-mail addresses and phone numbers find the customer who holds them."""

import pytest
from pydantic import ValidationError

from suppressor.customers import contacts, profiles
from suppressor.domain import CustomerIn


def put(store, cid, tenant="acme", **body):
    return profiles.put(store, tenant, cid, CustomerIn(**body), None)


def test_addresses_are_normalized_and_found(store):
    out = put(store, "c-1", emails=[" Ann@Example.COM ", "ann@example.com"], phones=["+1 (555) 010-2030"])
    assert out.emails == ["ann@example.com"] and out.phones == ["+15550102030"]
    found = contacts.find(
        store, "acme", [("email", "ann@example.com"), ("phone", "+15550102030"), ("email", "nobody@example.com")]
    )
    assert found == {("email", "ann@example.com"): "c-1", ("phone", "+15550102030"): "c-1"}


@pytest.mark.parametrize(
    "field,value,words", [("emails", "ann-at-example.com", "not an e-mail address"), ("phones", "555-1234", "E.164")]
)
def test_bad_contact_points_are_refused_in_words(field, value, words):
    with pytest.raises(ValidationError) as err:
        CustomerIn(**{field: [value]})
    assert err.value.errors()[0]["loc"] == (field, 0) and words in str(err.value)


def test_a_replaced_profile_lets_go_of_what_it_no_longer_lists(store):
    put(store, "c-1", emails=["ann@example.com", "old@example.com"])
    put(store, "c-1", emails=["ann@example.com"])
    assert contacts.find(store, "acme", [("email", "old@example.com")]) == {}
    assert contacts.find(store, "acme", [("email", "ann@example.com")]) == {("email", "ann@example.com"): "c-1"}


def test_the_profile_written_last_holds_a_shared_address_and_the_other_cannot_take_it_back(store):
    put(store, "c-1", emails=["family@example.com"])
    put(store, "c-2", emails=["family@example.com"])
    put(store, "c-1", emails=[])  # c-1 drops it: c-2 still holds it
    assert contacts.find(store, "acme", [("email", "family@example.com")]) == {("email", "family@example.com"): "c-2"}


def test_tenants_have_their_own_index_and_erasure_forgets_the_addresses(store):
    put(store, "c-1", emails=["ann@example.com"])
    put(store, "g-9", tenant="globex", emails=["ann@example.com"])
    assert contacts.find(store, "globex", [("email", "ann@example.com")]) == {("email", "ann@example.com"): "g-9"}
    profiles.delete(store, "acme", "c-1")
    assert contacts.find(store, "acme", [("email", "ann@example.com")]) == {}
    assert contacts.find(store, "globex", [("email", "ann@example.com")]) == {("email", "ann@example.com"): "g-9"}
    assert not any(b"ann@example.com" in k for k in store.bulk.keys("*"))  # addresses only as digests


def test_concurrent_puts_of_one_customer_leave_the_index_as_the_profile_stands(store):
    # each PUT updates the index after its profile write, from the points it read: two at once could
    # leave an address the final profile dropped, or drop one it lists
    from concurrent.futures import ThreadPoolExecutor

    lists = [[f"{x}{n}@example.com"] for x in "abcdef" for n in range(2)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        for round_ in range(300):
            mine = [[e.replace("@", f"+{round_}@") for e in emails] for emails in lists[round_ % 3 :: 3][:4]]
            list(pool.map(lambda emails: put(store, "c-1", emails=emails), mine))
            listed = set(profiles.get(store, "acme", "c-1", None).emails)
            every = [("email", e) for emails in mine for e in emails]
            held = {point[1] for point in contacts.find(store, "acme", every)}
            assert held == listed, (round_, held, listed)
