"""Who may send alerts: the configured credentials, checked per request, and the local demo
that needs none and therefore stays on loopback."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, cast

import httpx
from pydantic import SecretStr

from irp.alerts.auth import (
    GRAFANA_SIGNATURE_HEADER,
    GRAFANA_TIMESTAMP_HEADER,
    SignedMessage,
    check_basic,
    check_bearer,
    check_grafana_signature,
    header,
    standard_webhooks_key,
    verify_standard_webhooks,
)
from irp.errors import InvalidInput
from irp.settings import Settings

LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True)
class Admission:
    """The outcome of the credential check; `signed` is a Standard Webhooks message whose id
    must not be accepted twice; `field` names a header that is missing, not merely wrong."""

    admitted: bool
    signed: SignedMessage | None = None
    field: str | None = None


@dataclass(frozen=True)
class WebhookAuth:
    """Which credentials a request may present; any one configured method suffices."""

    token: str | None
    basic_user: str
    hmac_secret: str | None
    open_demo: bool

    def check(self, headers: Any, body: bytes) -> Admission:
        if self.open_demo:
            return Admission(True)
        authorization = headers.get("authorization")
        if self.token and (
            check_bearer(authorization, self.token)
            or check_basic(authorization, self.basic_user, self.token)
        ):
            return Admission(True)
        if self.hmac_secret:
            if "webhook-signature" in headers:
                signed = verify_standard_webhooks(headers, body, self.hmac_secret)
                if signed is not None:
                    return Admission(True, signed)
            if GRAFANA_SIGNATURE_HEADER in headers:
                if header(headers, GRAFANA_TIMESTAMP_HEADER) is None:
                    return Admission(False, field=GRAFANA_TIMESTAMP_HEADER)
                if check_grafana_signature(headers, body, self.hmac_secret, require_timestamp=True):
                    return Admission(True)
        return Admission(False)


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 or `localhost`; an empty host means every interface."""
    if not host:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _secret(value: SecretStr | None, block: str | None, variable: str) -> str | None:
    """A secret from the environment, else from the named Prefect Secret block."""
    if value is not None:
        return value.get_secret_value() or None
    if not block:
        return None
    from prefect.blocks.system import Secret

    try:
        loaded = cast(Secret[str], Secret.load(block))  # sync here: no event loop at startup
        return str(loaded.get()) or None
    except (ValueError, httpx.HTTPError) as exc:  # no such block, or no Prefect API
        raise InvalidInput(f"{variable}_BLOCK: cannot load Secret block {block!r}: {exc}") from None


def webhook_auth(settings: Settings) -> WebhookAuth:
    """Refuse to run open to the network: a secret is required unless this is a local demo."""
    token = _secret(settings.webhook_token, settings.webhook_token_block, "IRP_WEBHOOK_TOKEN")
    secret = _secret(
        settings.webhook_hmac_secret, settings.webhook_hmac_secret_block, "IRP_WEBHOOK_HMAC_SECRET"
    )
    if secret:
        try:
            standard_webhooks_key(secret)
        except ValueError as exc:
            raise InvalidInput(f"IRP_WEBHOOK_HMAC_SECRET: {exc}") from None
    if not token and not secret and not settings.webhook_local_demo:
        raise InvalidInput(
            "IRP_WEBHOOK_TOKEN or IRP_WEBHOOK_HMAC_SECRET: set one, or run a local demo "
            "with `irp webhook --local-demo` (accepts unauthenticated alerts)"
        )
    if not token and not secret:
        demo_on_loopback(settings.webhook_host, "--host (IRP_WEBHOOK_HOST)")
    return WebhookAuth(
        token or None, settings.webhook_basic_user, secret or None, not (token or secret)
    )


def demo_on_loopback(host: str, name: str) -> None:
    """A local demo takes alerts without credentials, so it must not listen beyond this host."""
    if not is_loopback(host):
        raise InvalidInput(
            f"{name}: {host or '(all interfaces)'!r} is not a loopback address; the local "
            "demo accepts alerts without credentials, so it listens on 127.0.0.1 or ::1 only. "
            "Set IRP_WEBHOOK_TOKEN or IRP_WEBHOOK_HMAC_SECRET to listen on other interfaces."
        )
