"""Rules for the operator module."""
