"""Drills: scenarios, scoring against the plan, and the drill audit record."""
