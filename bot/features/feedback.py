"""Alias of :mod:`bot.jobs.feedback` for jobs queued before the regroup.

regroup: old paths kept
"""

from bot.jobs.feedback import feedback_job, harvest_job, rules_job

__all__ = ["feedback_job", "harvest_job", "rules_job"]
