"""How jobs use the indexer: credential-free mirrors, the default-branch index, PR-head
overlays and related code for a review or a fix."""
