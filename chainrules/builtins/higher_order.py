"""Rules for higher-order builtins that call back into the AD engine: map, sorted, zip, enumerate, functools.reduce."""
