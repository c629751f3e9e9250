"""Keeping tokens fresh: refresh policy, the single-flight leased refresh, and the refresher loop."""
