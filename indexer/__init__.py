"""Repository indexing and retrieval: tree-sitter chunks into Qdrant. Knows nothing of forges."""
