"""Metrics as Prefect artifacts: a table per dimension and drill results, shown in the UI."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from irp.db import get_engine
from irp.reporting import metrics


def publish_metrics(result: metrics.Metrics, key: str = "irp-metrics") -> str:
    """Create the artifacts (linked to the current flow run when there is one); return the key."""
    create_table_artifact(
        result.to_dict()["by"],
        key=key,
        description=f"Minutes from detection, {result.incidents} incidents",
    )
    if not result.drills.empty:
        create_table_artifact(
            result.to_dict()["drills"], key=f"{key}-drills", description="Drill results per month"
        )
    create_markdown_artifact(
        f"```\n{metrics.render(result, 'table')}```", key=f"{key}-summary", description="Metrics"
    )
    return key


@task(name="publish-metrics", cache_policy=NO_CACHE)
def metrics_artifacts(include_drills: bool = False) -> str:
    """Inside a flow: compute the metrics and publish them as the run's artifacts."""
    return publish_metrics(metrics.collect(get_engine(), include_drills=include_drills))
