"""Webhook intake: verification and normalisation (pure), one module per forge."""
