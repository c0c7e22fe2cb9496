"""Alias of :mod:`bot.jobs.review` for jobs queued before the regroup.

regroup: old paths kept
"""

from bot.jobs.review import review_job

__all__ = ["review_job"]
