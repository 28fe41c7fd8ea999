"""The Ray runtime: actors, evaluator pool, search loop, checkpoints."""
