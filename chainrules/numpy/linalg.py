"""Rules for products and numpy.linalg."""
