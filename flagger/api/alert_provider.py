"""The AlertProvider resource: where a canary's alerts are posted (Slack, MS Teams, ...).

The hook address comes from ``spec.address`` or from the ``address`` key of the secret named
by ``spec.secretRef`` (whose optional ``token`` key is sent as a Bearer header). ``spec.type``
is a notifier plugin name. Defaults (channel ``general``, username ``flagger``) are read
through ``effective_<field>`` properties.
"""

from __future__ import annotations

from typing import Any, Literal

import pydantic

from flagger.api import common
from flagger.api.common import field

KIND = "AlertProvider"
DEFAULT_CHANNEL = "general"
DEFAULT_USERNAME = "flagger"

#: Alert provider types of upstream Flagger's CRD enum (plugins may add more).
PROVIDER_TYPES = ("slack", "msteams", "discord", "rocket", "gchat")


class AlertProviderSpec(common.FlaggerModel):
    """AlertProviderSpec defines the desired state of a AlertProvider."""

    model_config = pydantic.ConfigDict(
        json_schema_extra={common.CRD_ONE_OF_KEY: [["type", "address"], ["type", "secretRef"]]}
    )

    type: str = common.required(
        "Type of this provider", schema={common.BUILTIN_ENUM_KEY: list(PROVIDER_TYPES)}
    )
    channel: str | None = field("Alert channel for this provider")
    username: str | None = field("Bot username for this provider")
    address: str | None = field("Hook URL address of this provider")
    proxy: str | None = field("Http/s proxy of this provider")
    secret_ref: common.LocalObjectReference | None = field(
        "Kubernetes secret reference containing the provider address"
    )

    @pydantic.model_validator(mode="after")
    def _address_source(self) -> AlertProviderSpec:
        common.check_one_of(self, ("address", "secret_ref"), exactly=True)
        return self

    @property
    def effective_channel(self) -> str:
        """The channel to post to, default ``general``."""
        return self.channel or DEFAULT_CHANNEL

    @property
    def effective_username(self) -> str:
        """The bot user name, default ``flagger``."""
        return self.username or DEFAULT_USERNAME


class AlertProvider(common.Resource):
    """AlertProvider is the Schema for the AlertProvider API."""

    KIND = KIND

    kind: Literal["AlertProvider"] = pydantic.Field(
        default="AlertProvider", description="AlertProvider"
    )
    spec: AlertProviderSpec = common.required(
        "AlertProviderSpec defines the desired state of a AlertProvider."
    )
    status: dict[str, Any] | None = field(
        "Status of this alert provider (not in the CRD schema)", schema={common.CRD_OMIT_KEY: True}
    )
