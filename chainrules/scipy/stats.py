"""Rules for scipy.stats distributions."""
