"""A real RQ worker that stops between dequeue and start, for the orphaned-job test.

`python -m tests.reliability.stall_worker REDIS_URL MARK_KEY QUEUE...` runs our AssistWorker on
the queues; right after it pops a job id (RQ's ``prepare_execution``, before the job is
registered as started) it writes the id to MARK_KEY and blocks on Redis until it is killed.
Listening on more than one queue, as `assist worker` does by default, RQ pops with BLPOP and
keeps no intermediate copy of the id.
"""

from __future__ import annotations

import sys
from typing import Any

from redis import Redis
from rq.job import Job

from bot.jobs.worker import AssistWorker


class StallAfterDequeue(AssistWorker):
    mark_key = ""

    def prepare_execution(self, job: Job) -> Any:
        self.connection.set(self.mark_key, job.id)
        while True:  # the test SIGKILLs us here; nothing is ever pushed on this key
            self.connection.blpop([self.mark_key + ":never"], timeout=60)


def main() -> None:
    url, mark_key, *queues = sys.argv[1:]
    redis = Redis.from_url(url)
    worker = StallAfterDequeue(queues, connection=redis)
    worker.mark_key = mark_key
    worker.work(burst=True)


if __name__ == "__main__":
    main()
