"""`irp up`'s processes: an embedded PostgreSQL, a Prefect server on it, serve and the
webhook, each restarted when it exits and all stopped together (see docs/operations.md)."""

from irp.stack.errors import StackError, StopRequested
from irp.stack.postgres import EmbeddedPostgres, start_embedded_postgres
from irp.stack.processes import check_port_free, http_ok, tail, wait_http_ok
from irp.stack.stack import SERVER_NAME, Stack, StackConfig, prefect_server_env

__all__ = [
    "SERVER_NAME",
    "EmbeddedPostgres",
    "Stack",
    "StackConfig",
    "StackError",
    "StopRequested",
    "check_port_free",
    "http_ok",
    "prefect_server_env",
    "start_embedded_postgres",
    "tail",
    "wait_http_ok",
]
