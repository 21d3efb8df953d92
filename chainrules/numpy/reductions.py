"""Rules for numpy reductions: sum, mean, prod, max, min, std, var, cumulative sums and products."""
