"""Files written atomically (checkpoints, trajectories, model artifacts)."""
