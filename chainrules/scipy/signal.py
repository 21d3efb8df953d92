"""Rules for scipy.signal and scipy.integrate."""
