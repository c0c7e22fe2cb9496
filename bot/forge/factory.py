"""Build a Forge adapter from Settings (called in entry points, never at import)."""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import SecretStr

from bot.domain import ForgeKind
from bot.forge.auth import GitHubAppTokens, StaticToken, TokenSource
from bot.forge.errors import ForgeError
from bot.forge.github import GitHubForge
from bot.forge.gitlab import GitLabForge
from bot.forge.identity import (
    IdentityStore,
    OwnIdentity,
    github_app_identity,
    token_identity,
)
from bot.forge.protocol import Forge
from bot.forge.scopes import PERMISSIONS, TokenScope
from bot.settings import Settings


class ForgeNotConfigured(ForgeError):
    """The settings hold no credentials for the forge asked for."""


def github_app_tokens(
    settings: Settings, *, installation_id: int | None = None, scope: TokenScope | None = None
) -> GitHubAppTokens:
    """The App's installation-token cache; build one per process (or job) and share it.
    Each token is for one repository; ``scope`` limits its permissions to what that kind of
    job needs (None: all the installation has, for tools such as ``assist doctor``)."""
    if settings.github_app_id is None:
        raise ForgeNotConfigured("ASSIST_GITHUB_APP_ID is not set")
    key = settings.github_private_key
    if key is None and settings.github_private_key_path is not None:
        key = SecretStr(settings.github_private_key_path.read_text())
    if key is None:
        raise ForgeNotConfigured(
            "set ASSIST_GITHUB_PRIVATE_KEY or ASSIST_GITHUB_PRIVATE_KEY_PATH for App mode"
        )
    return GitHubAppTokens(
        app_id=settings.github_app_id,
        private_key=key,
        api_url=settings.github_api_url,
        timeout_s=settings.forge_timeout_s,
        installation_id=installation_id,
        permissions=PERMISSIONS[scope] if scope is not None else None,
    )


def build_forge(
    settings: Settings,
    kind: ForgeKind,
    *,
    installation_id: int | None = None,
    scope: TokenScope | None = None,
    tokens: TokenSource | None = None,
    attempts: int = 3,
    backoff_s: float = 1.0,
    github_write_pause_s: float | None = 1.0,
    github_check_runs: bool = False,
    identity_store: IdentityStore | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Forge:
    """The adapter for ``kind``. GitHub uses App mode when an app id is set (the installation
    from ``installation_id`` or looked up per repository; tokens limited to ``scope``), else the
    token; ``tokens`` overrides
    both (e.g. a shared :class:`GitHubAppTokens`). ``github_write_pause_s`` is PyGithub's pause
    between writes (GitHub asks integrators to space out content creation);
    ``github_check_runs`` reports check runs instead of commit statuses (App mode only).
    Our own identity comes from the forge's API (:func:`own_identity`, cached process-wide and
    in ``identity_store``); configured ``bot_logins`` are only added to it."""
    bots = frozenset(settings.bot_logins)
    identity = own_identity(settings, kind, store=identity_store)
    if kind == "github":
        if tokens is None:
            if settings.github_app_id is not None:
                tokens = github_app_tokens(settings, installation_id=installation_id, scope=scope)
            elif settings.github_token is not None:
                tokens = StaticToken(settings.github_token)
            else:
                raise ForgeNotConfigured(
                    "no GitHub credentials: set ASSIST_GITHUB_APP_ID with a private key, "
                    "or ASSIST_GITHUB_TOKEN"
                )
        return GitHubForge(
            api_url=settings.github_api_url,
            tokens=tokens,
            timeout_s=settings.forge_timeout_s,
            bot_logins=bots,
            identity=identity,
            attempts=attempts,
            backoff_s=backoff_s,
            seconds_between_writes=github_write_pause_s,
            check_runs=github_check_runs,
            sleep=sleep,
        )
    if tokens is None:
        if settings.gitlab_token is None:
            raise ForgeNotConfigured("no GitLab credentials: set ASSIST_GITLAB_TOKEN")
        tokens = StaticToken(settings.gitlab_token)
    return GitLabForge(
        url=settings.gitlab_url,
        tokens=tokens,
        timeout_s=settings.forge_timeout_s,
        bot_logins=bots,
        identity=identity,
        attempts=attempts,
        backoff_s=backoff_s,
        sleep=sleep,
    )


def own_identity(
    settings: Settings, kind: ForgeKind, *, store: IdentityStore | None = None
) -> OwnIdentity | None:
    """Who the configured credentials post as, asked of the forge on first use: the App's
    ``/app`` slug, else the token's ``/user``; None without credentials (nothing is ours)."""
    extra = settings.bot_logins
    timeout = settings.forge_timeout_s
    if kind == "github":
        if settings.github_app_id is not None:
            key = _private_key(settings)
            if key is None:
                return None
            return github_app_identity(
                api_url=settings.github_api_url, app_id=settings.github_app_id,
                private_key=key, timeout_s=timeout, extra=extra, store=store,
            )  # fmt: skip
        if settings.github_token is None:
            return None
        return token_identity(
            "github", url=settings.github_api_url, token=settings.github_token,
            timeout_s=timeout, extra=extra, store=store,
        )  # fmt: skip
    if settings.gitlab_token is None:
        return None
    return token_identity(
        "gitlab", url=settings.gitlab_url, token=settings.gitlab_token,
        timeout_s=timeout, extra=extra, store=store,
    )  # fmt: skip


def _private_key(settings: Settings) -> SecretStr | None:
    if settings.github_private_key is not None:
        return settings.github_private_key
    if settings.github_private_key_path is not None:
        return SecretStr(settings.github_private_key_path.read_text())
    return None
