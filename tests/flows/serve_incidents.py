"""Run as a subprocess by the recovery tests: serve the four incident deployments as `irp up`
does, but without the serve process's watch, so that only the test recovers."""

from __future__ import annotations


def main() -> None:
    from irp.settings import point_prefect_at_stack

    point_prefect_at_stack()
    from prefect import serve

    from deployments.serve import incident_deployments, module_entrypoint

    deployments = [module_entrypoint(d) for d in incident_deployments()]
    serve(*deployments, pause_on_shutdown=False, print_starting_message=False)


if __name__ == "__main__":
    main()
