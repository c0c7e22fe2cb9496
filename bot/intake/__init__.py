"""Webhook intake: verify, decode, normalise per forge, commands, routing, delivery record.

Pure except the store and queue protocols; imported by the web process.
"""
