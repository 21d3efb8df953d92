"""Rules for building and indexing tuples, lists and dicts."""
