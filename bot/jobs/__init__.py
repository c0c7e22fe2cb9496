"""What every job shares: the worker's context and the record of each run."""
