"""Alias of :mod:`bot.jobs.ask` for jobs queued before the regroup.

regroup: old paths kept
"""

from bot.jobs.ask import ask_job

__all__ = ["ask_job"]
