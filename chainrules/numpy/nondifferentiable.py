"""numpy functions with no derivative."""
