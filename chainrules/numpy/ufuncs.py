"""Rules for numpy's elementwise functions (ufuncs), from a table of partial derivatives."""
