"""Policy test suites, coverage and change impact for compliance staff."""
