"""Node executors: one module per node type, plus the attempt loop (``runner``)."""
