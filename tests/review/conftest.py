from tests.review.test_pipeline import repo  # noqa: F401  (shared fixture)
