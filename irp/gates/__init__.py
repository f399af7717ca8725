"""Gates: who may decide, what was asked and answered, and how long it waits."""
