"""Old dotted paths of the job functions, kept for one release (regroup: old paths kept).

RQ stores a job's function as a dotted path. Jobs queued before the regroup name
``bot.features.<module>.<job>``; these modules make those paths resolve to the same functions
in :mod:`bot.jobs`. Nothing new refers to them. Remove after the next release.
"""
