"""Incidents: their records, timeline, grading, and recovery of runs that died."""
