"""Who answered: the plan's people, their one-time codes and signed links (issue 12)."""
