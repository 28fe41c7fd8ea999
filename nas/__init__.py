"""How it is searched: controllers, the Ray runtime, MLflow tracking, trajectories, pipeline and CLI."""
