"""The catalog's rules, pure: who sees and reads a dataset, how a grant changes, what a selection
narrowed by a filter matches."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from citymesh.city import DISTRICTS, KIND_NAMES
from citymesh.exchange import catalog
from citymesh.exchange.catalog import Caller, Grant, GrantState, Visibility
from citymesh.exchange.domain import ReadingFilter, StoredBatch
from citymesh.runtime import errors

NOW = 1_767_225_600_000
ALIBABA = Caller("alibaba-cloud", "gouzhao")
HUAWEI = Caller("huawei", "fengyang")
ZONE = Caller("zone", platform=True)


def dataset(visibility: Visibility) -> catalog.Dataset:
    return catalog.publication(ALIBABA, "air", "", visibility, ReadingFilter(kinds=frozenset({"air"})), NOW)


def granted(expires_ms: int = NOW + 1000) -> Grant:
    return catalog.grant(None, dataset(Visibility.SHARED), "huawei", expires_ms, "", "alibaba-cloud", NOW)


def test_a_tenants_dataset_lies_in_its_district_and_is_keyed_by_its_owner() -> None:
    air = dataset(Visibility.SHARED)
    assert (air.dataset_id, air.owner, air.district) == ("alibaba-cloud.air", "alibaba-cloud", "gouzhao")
    assert air.selection == ReadingFilter(districts=frozenset({"gouzhao"}), kinds=frozenset({"air"}))
    assert catalog.Dataset.from_json(air.to_json()) == air
    with pytest.raises(errors.PermissionDenied, match="only its own sub-district"):
        catalog.publication(
            ALIBABA, "x", "", Visibility.SHARED, ReadingFilter(districts=frozenset({"wutong"})), NOW
        )
    with pytest.raises(errors.PermissionDenied, match="no sub-district"):
        catalog.publication(Caller("nomad"), "x", "", Visibility.SHARED, ReadingFilter(), NOW)
    zone_wide = catalog.publication(ZONE, "all", "", Visibility.PUBLIC, ReadingFilter(), NOW)
    assert (zone_wide.dataset_id, zone_wide.selection.districts) == ("zone.all", frozenset())


@pytest.mark.parametrize("visibility", list(Visibility))
def test_the_owner_and_the_platform_read_every_dataset_unaudited(visibility: Visibility) -> None:
    for reader in (ALIBABA, ZONE):
        decision = catalog.may_read(reader, dataset(visibility), None, NOW)
        assert decision.allowed
        assert not decision.audited


def test_others_read_public_datasets_and_granted_ones_audited_and_private_ones_are_hidden() -> None:
    public = catalog.may_read(HUAWEI, dataset(Visibility.PUBLIC), None, NOW)
    shared = catalog.may_read(HUAWEI, dataset(Visibility.SHARED), None, NOW)
    private = catalog.may_read(HUAWEI, dataset(Visibility.PRIVATE), None, NOW)
    through = catalog.may_read(HUAWEI, dataset(Visibility.PRIVATE), granted(), NOW)

    assert public.allowed
    assert public.audited
    assert not shared.allowed
    assert not shared.hide
    assert "RequestAccess" in shared.reason
    assert not private.allowed
    assert private.hide
    assert through.allowed
    assert through.audited
    assert through.expires_ms == NOW + 1000
    assert catalog.may_see(HUAWEI, dataset(Visibility.PRIVATE), granted(), NOW)
    assert not catalog.may_see(HUAWEI, dataset(Visibility.PRIVATE), None, NOW)
    assert catalog.may_see(HUAWEI, dataset(Visibility.SHARED), None, NOW)


def test_a_grant_is_dead_from_the_instant_it_expires() -> None:
    grant = granted(NOW + 1000)
    assert grant.live(NOW + 999)
    assert not grant.live(NOW + 1000)
    assert grant.state_at(NOW + 1000) is GrantState.EXPIRED
    late = catalog.may_read(HUAWEI, dataset(Visibility.SHARED), grant, NOW + 1000)
    assert not late.allowed
    assert "expired at 2026-01-01T00:00:01.000Z" in late.reason
    assert Grant.from_json(grant.to_json()) == grant


def test_the_telemetry_of_a_district_is_read_by_the_tenants_bound_to_it() -> None:
    gouzhao = catalog.telemetry_dataset("gouzhao", "alibaba-cloud")
    assert catalog.may_read(ALIBABA, gouzhao, None, NOW).allowed
    assert catalog.may_read(Caller("another-tenant", "gouzhao"), gouzhao, None, NOW).allowed
    assert not catalog.may_read(HUAWEI, gouzhao, None, NOW).allowed
    assert not catalog.may_read(Caller("alibaba-cloud"), gouzhao, None, NOW).allowed, "its district decides"
    assert catalog.may_decide(ALIBABA, gouzhao)
    assert not catalog.may_decide(HUAWEI, gouzhao)
    assert catalog.may_decide(ZONE, catalog.telemetry_dataset("shifo", ""))


def test_a_request_is_asked_again_after_a_denial_revocation_or_expiry_but_a_live_grant_stays() -> None:
    shared = dataset(Visibility.SHARED)
    asked = catalog.request(None, shared, HUAWEI, "a model", NOW)
    assert (asked.state, asked.requested_ms) == (GrantState.REQUESTED, NOW)
    assert catalog.request(asked, shared, HUAWEI, "a better model", NOW + 1).purpose == "a better model"
    live = catalog.grant(asked, shared, "huawei", NOW + 50, "ok", "alibaba-cloud", NOW + 2)
    assert catalog.request(live, shared, HUAWEI, "more", NOW + 3) == live
    for ended in (
        catalog.deny(asked, shared.dataset_id, "huawei", "no", "alibaba-cloud", NOW),
        catalog.revoke(live, shared.dataset_id, "huawei", "over", "alibaba-cloud", NOW),
        live,
    ):
        again = catalog.request(ended, shared, HUAWEI, "again", NOW + 100)
        assert (again.state, again.requested_ms) == (GrantState.REQUESTED, NOW + 100)
    with pytest.raises(errors.FailedPrecondition):
        catalog.request(None, shared, ALIBABA, "mine", NOW)
    with pytest.raises(errors.FailedPrecondition):
        catalog.request(None, dataset(Visibility.PUBLIC), HUAWEI, "open", NOW)
    with pytest.raises(errors.FailedPrecondition):
        catalog.deny(live, shared.dataset_id, "huawei", "late", "alibaba-cloud", NOW)
    with pytest.raises(errors.FailedPrecondition):
        catalog.revoke(asked, shared.dataset_id, "huawei", "early", "alibaba-cloud", NOW)


@pytest.mark.parametrize(
    ("expires_ms", "ttl_ms", "match"),
    [
        (None, None, "exactly one"),
        (NOW + 5000, 5000, "exactly one"),
        (NOW, None, "not in the future"),
        (None, 999, "at least 1 s"),
        (None, 367 * 86_400_000, "at most 366"),
    ],
)
def test_a_grant_needs_one_end_within_a_year(expires_ms: int | None, ttl_ms: int | None, match: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=match):
        catalog.expiry(NOW, expires_ms, ttl_ms)


def test_dataset_ids_parse_and_grant_keys_split_back() -> None:
    assert catalog.parse_dataset_id("telemetry.wutong") == ("telemetry", "wutong")
    assert catalog.parse_dataset_id("alibaba-cloud.air") == ("alibaba-cloud", "air")
    for bad in ("", "air", "telemetry.atlantis", "a.b.c", "Alibaba.air", "alibaba.", ".air"):
        with pytest.raises(errors.InvalidArgument):
            catalog.parse_dataset_id(bad)
    assert catalog.split_grant_key(catalog.grant_key("alibaba-cloud.air", "huawei")) == (
        "alibaba-cloud.air",
        "huawei",
    )


names = st.frozensets
filters = st.builds(
    ReadingFilter,
    districts=names(st.sampled_from(DISTRICTS), max_size=3),
    kinds=names(st.sampled_from(KIND_NAMES), max_size=3),
    device_ids=names(st.sampled_from(["d0", "d1", "d2", "d3"]), max_size=3),
)


@given(a=filters, b=filters, seed=st.integers(0, 2**16))
def test_a_selection_narrowed_by_a_filter_matches_exactly_what_both_match(
    a: ReadingFilter, b: ReadingFilter, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    n = 64
    batch = StoredBatch(
        sequence=1,
        device_ids=["d0", "d1", "d2", "d3"],
        device_index=rng.integers(0, 4, n).astype(np.uint32),
        time_ms=np.arange(n, dtype=np.int64),
        value=np.zeros(n),
        kind=rng.integers(1, len(KIND_NAMES) + 1, n).astype(np.uint8),
        district=rng.integers(1, len(DISTRICTS) + 1, n).astype(np.uint8),
    )

    def matched(f: ReadingFilter | None) -> set[int]:
        selected = None if f is None else f.select(batch)
        return set() if selected is None else set(selected.time_ms.tolist())

    assert matched(a.within(b)) == matched(a) & matched(b)
    assert a.within(replace(a)) == a
