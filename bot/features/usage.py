"""Alias of :mod:`bot.jobs.usage` for jobs queued before the regroup.

regroup: old paths kept
"""

from bot.jobs.usage import usage_job

__all__ = ["usage_job"]
