"""Property-based tests: random small programs built from the rule tables, checked in every mode."""
