"""The `irp` command: the shell face over the core, deployments and the stack."""
