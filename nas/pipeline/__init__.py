"""The end-to-end pipeline: search jobs, retraining, reports."""
