"""`assist eval`: labelled review cases, exact scoring, converters and the replay runner.

The scoring core (:mod:`bot.eval.score`) is pure; the runner replays the real review pipeline
(:func:`bot.review.run.run_review`) on each case. See docs/eval.md.
"""
