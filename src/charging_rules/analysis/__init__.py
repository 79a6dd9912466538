"""Disparity monitoring and policy impact: rates by group at each decision point, relative
rate indexes with confidence intervals, guideline-change impact, the public report."""
