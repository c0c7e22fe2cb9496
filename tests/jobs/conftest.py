"""The jobs' tests run real `assist worker` processes against the intake's service fixtures."""

from tests.intake.conftest import db, intake_env, migrated_pg, rds, server

__all__ = ["db", "intake_env", "migrated_pg", "rds", "server"]
