"""MLflow tracking and Parquet trajectories."""
