"""ndarray methods and attributes, routed through the rules of the matching numpy functions."""
