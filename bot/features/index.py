"""Alias of :mod:`bot.jobs.index` for jobs queued before the regroup.

regroup: old paths kept
"""

from bot.jobs.index import forget_pull_job, index_job, installation_job

__all__ = ["forget_pull_job", "index_job", "installation_job"]
