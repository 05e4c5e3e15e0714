"""Models built on rnnlab's cells: one module per model family."""
