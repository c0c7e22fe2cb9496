"""Mirror (and so index) names: one per exact forge, host and project path."""

from __future__ import annotations

from pathlib import Path

from bot.domain import RepoRef
from bot.index.indexing import forge_host, mirror_path, retire_legacy_mirror
from bot.settings import Settings


def test_projects_whose_readable_names_collide_get_their_own_mirror(tmp_path: Path) -> None:
    paths = ["acme/internal_tools", "acme_internal/tools", "acme/internal/tools"]
    mirrors = {mirror_path(tmp_path, RepoRef("gitlab", p), "gitlab.example.org") for p in paths}
    assert len(mirrors) == 3
    assert all(m.name.startswith("acme_internal_tools-") for m in mirrors)  # still readable


def test_the_same_path_on_two_hosts_or_forges_is_two_mirrors(tmp_path: Path) -> None:
    repo = RepoRef("gitlab", "acme/tools")
    assert mirror_path(tmp_path, repo, "a.example") != mirror_path(tmp_path, repo, "b.example")
    github = RepoRef("github", "acme/tools")
    assert mirror_path(tmp_path, repo, "h") != mirror_path(tmp_path, github, "h")
    assert mirror_path(tmp_path, repo, "h") == mirror_path(tmp_path, repo, "h")


def test_the_host_comes_from_the_settings_without_credentials() -> None:
    settings = Settings(gitlab_url="https://user:pw@GitLab.Example.org:8443/", _env_file=None)
    assert forge_host(settings, RepoRef("gitlab", "a/b")) == "gitlab.example.org:8443"


def test_a_mirror_under_the_old_colliding_name_is_retired(tmp_path: Path) -> None:
    repo = RepoRef("gitlab", "acme/internal_tools")
    legacy = tmp_path / "mirrors" / "gitlab" / "acme_internal_tools.git"
    (legacy / "objects").mkdir(parents=True)
    assert retire_legacy_mirror(tmp_path, repo)
    assert not legacy.exists()
    assert not retire_legacy_mirror(tmp_path, repo)


def test_mirrors_over_their_cap_go_least_recently_used_first(tmp_path: Path) -> None:
    import os

    from bot.index.indexing import prune_mirrors

    made = []
    for i, name in enumerate(["old", "mid", "new"]):
        m = tmp_path / "mirrors" / "github" / f"{name}.git"
        (m / "objects").mkdir(parents=True)
        (m / "objects" / "pack").write_bytes(b"x" * 1000)
        os.utime(m, (1000 + i, 1000 + i))
        made.append(m)
    old, mid, new = made
    assert prune_mirrors(tmp_path, 2500, keep=old) == [mid]  # the one in use stays
    assert prune_mirrors(tmp_path, 2500) == []
    assert prune_mirrors(tmp_path, 1000) == [old]
    assert new.exists()
    assert prune_mirrors(tmp_path, 0) == []  # 0: no cap
