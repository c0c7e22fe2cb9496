"""The operator console (`assist console`): a web UI and JSON API over what the bot recorded,
behind OpenID Connect sign-in (pages) and API keys (``/api``). Its own ASGI app and process."""
