"""Older payload generations brought to the current shape: what is filled in, from where."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.intake.shapes import upgrade_github, upgrade_gitlab


def test_a_project_without_id_takes_the_top_level_project_id() -> None:
    out = upgrade_gitlab("Push Hook", {"project_id": 15, "project": {"path_with_namespace": "a/b"}})
    assert out["project"] == {"path_with_namespace": "a/b", "id": 15}


def test_a_merge_request_without_project_uses_its_target() -> None:
    attrs = {"iid": 1, "target_project_id": 14, "target": {"path_with_namespace": "s/p"}}
    out = upgrade_gitlab("Merge Request Hook", {"object_attributes": attrs})
    assert out["project"] == {"path_with_namespace": "s/p", "id": 14}


def test_present_fields_win_and_the_input_is_not_changed() -> None:
    payload: dict[str, Any] = {
        "project_id": 1,
        "project": {"id": 2, "path_with_namespace": "a/b"},
        "object_attributes": {"action": "update", "state": "opened"},
    }
    out = upgrade_gitlab("Merge Request Hook", payload)
    assert out["project"]["id"] == 2
    assert out["object_attributes"]["action"] == "update"
    assert payload["project"] == {"id": 2, "path_with_namespace": "a/b"}


def test_a_merge_request_without_action_takes_it_from_its_state() -> None:
    for state, action in [("opened", "open"), ("closed", "close"), ("merged", "merge")]:
        out = upgrade_gitlab("Merge Request Hook", {"object_attributes": {"state": state}})
        assert out["object_attributes"]["action"] == action
    out = upgrade_gitlab("Merge Request Hook", {"object_attributes": {"state": "locked"}})
    assert "action" not in out["object_attributes"]


def test_a_note_does_not_take_a_merge_request_target_for_its_project() -> None:
    attrs = {"target_project_id": 9, "target": {"path_with_namespace": "x/y"}}
    out = upgrade_gitlab("Note Hook", {"object_attributes": attrs, "project": {}})
    assert out["project"] == {}


def test_older_github_repository_names() -> None:
    out = upgrade_github(
        {"repository": {"name": "r", "owner": {"name": "o"}, "master_branch": "main"}}
    )
    assert out["repository"]["full_name"] == "o/r"
    assert out["repository"]["default_branch"] == "main"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
keys = st.sampled_from(["project", "project_id", "object_attributes", "repository", "x"])


@given(st.dictionaries(keys, json_values, max_size=5))
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # no clock in tests
def test_any_dict_upgrades_without_crashing(payload: dict[str, Any]) -> None:
    for event in ("Push Hook", "Merge Request Hook", "Note Hook"):
        assert isinstance(upgrade_gitlab(event, payload), dict)
    assert isinstance(upgrade_github(payload), dict)
