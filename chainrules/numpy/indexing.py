"""Rules for indexing, selection, sorting and array construction."""
