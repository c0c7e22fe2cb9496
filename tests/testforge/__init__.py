"""A test forge: one loopback HTTP server that speaks GitHub's REST API (``/api/v3``, every
request validated against ``corpora/github/rest-openapi.json``, responses completed to and
validated against the same description), GitLab's REST API (``/api/v4``, responses built on the
real ones in ``corpora/gitlab/api/``) and git's smart HTTP protocol (``git http-backend`` over
real bare repositories, Basic auth with any valid token as the password).

One state serves both APIs: a pull request is a merge request, an issue comment is a note, a
review comment is a DiffNote in a discussion, so a test can drive either adapter and inspect the
same state.

Usage::

    with TestForge() as forge:                       # a thread of this process
        forge.create_repo("octo/app", files={"a.py": "x = 1\\n"}, members={"bob": "write"})
        forge.commit("octo/app", "feature", {"a.py": "x = 2\\n"}, "Change")
        number = forge.add_pull("octo/app", head="feature", title="Change x")
        token = forge.add_user("forge-assist", token="...")          # token mode / GitLab
        forge.add_app(app_id, public_pem); forge.add_installation(app_id, ["octo/app"])
        forge.inject(Fault.server_error(502, times=1, api="github"))
        ...  # point the bot at forge.github_api_url / forge.gitlab_url / forge.url
        forge.comments("octo/app", number); forge.reviews(...); forge.statuses(...)

    with RemoteTestForge.spawn() as forge: ...      # its own process, same methods over RPC

Setup: ``create_repo(path, source=dir|None, files=..., default_branch=, members=)``,
``commit(repo, branch, files, message, start=)``, ``add_pull(repo, head=, base=, title=, body=,
author=, draft=)``, ``add_issue(repo, title, body, author=)``, ``add_comment(repo, number, body,
author=, path=, line=)``, ``add_comments(repo, number, bodies)``, ``add_user(login, token=,
read_only=)``, ``set_permission(repo, login, role)``, ``add_app``, ``add_installation``,
``revoke_tokens()``, ``token_ttl_s``.
Faults: ``inject(Fault(...))`` with ``Fault.server_error``, ``Fault.rate_limit(reset_in_s=,
status=403|429)``, ``Fault.slow(delay_s)``, narrowed by ``api``/``method``/``path`` and ``times``;
``clear_faults()``. A comment outside the diff is refused as the real forges do (GitHub 422,
GitLab 400).
Inspection (plain JSON values): ``pull``, ``pulls``, ``issues``, ``comments(repo, number,
kind=)``, ``discussions``, ``reviews``, ``statuses``, ``refs``, ``read(repo, ref, path)``,
``token_request_count()``, ``requests_log(api=)``, ``violations()``.
Fixtures for other test folders: :mod:`tests.testforge.fixtures`.
"""

from tests.testforge.remote import RemoteTestForge
from tests.testforge.server import TestForge
from tests.testforge.state import Fault

__all__ = ["Fault", "RemoteTestForge", "TestForge"]
