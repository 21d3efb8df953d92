"""Rules for arithmetic builtins: sum, abs, min, max, pow, round, float, int."""
