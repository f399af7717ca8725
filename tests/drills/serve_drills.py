"""Run as a subprocess by the scheduled-drill test: serve the plan's drill deployments."""

from __future__ import annotations

import sys


def main(plan_file: str) -> None:
    from prefect import serve

    from deployments.drills import scheduled_drill_deployments
    from irp.plan.loader import get_plan

    serve(
        *scheduled_drill_deployments(get_plan(plan_file), plan_file), print_starting_message=False
    )


if __name__ == "__main__":
    main(sys.argv[1])
