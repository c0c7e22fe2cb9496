"""Pull/merge request review: diff model, anchoring, and (later) the review pipeline."""
