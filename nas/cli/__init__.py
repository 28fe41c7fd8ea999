"""The nas command line."""
