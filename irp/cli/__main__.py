"""`python -m irp.cli`: how the stack starts its own processes, without a console script."""

from irp.cli.main import run

run()
