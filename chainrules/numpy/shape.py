"""Rules for numpy functions that move, copy or reshape array elements."""
