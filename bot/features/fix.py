"""Alias of :mod:`bot.jobs.fix` for jobs queued before the regroup.

regroup: old paths kept
"""

from bot.jobs.fix import fix_job

__all__ = ["fix_job"]
