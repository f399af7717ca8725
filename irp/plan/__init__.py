"""The plan: loading the YAML, and the checks that its sections refer to each other soundly."""
