"""The plugin error tree: one set of classes in flagger.plugins, which the built-in backends and
router helpers raise, so a plugin (or the daemon) can catch them by their public names."""

from __future__ import annotations

import dataclasses

import pytest

from flagger import plugins, router_helpers
from flagger.metrics.backends import backend_common, prometheus


@dataclasses.dataclass
class _Canary:
    name: str = "podinfo"
    namespace: str = "test"


def test_backends_raise_the_public_classes() -> None:
    assert prometheus.QueryError is plugins.QueryError
    assert backend_common.QueryError is plugins.QueryError
    assert prometheus.ConfigError is plugins.ConfigError
    assert backend_common.ConfigError is plugins.ConfigError
    assert router_helpers.UnsupportedFeature is plugins.UnsupportedFeature


@pytest.mark.parametrize(
    "error", [plugins.RouterError, plugins.QueryError, plugins.NoValuesFound, plugins.ConfigError]
)
def test_every_plugin_error_is_a_plugin_error(error: type[Exception]) -> None:
    assert issubclass(error, plugins.PluginError)


def test_config_error_is_still_a_value_error() -> None:
    with pytest.raises(ValueError, match="address"):
        prometheus.from_provider_spec({"type": "prometheus", "address": "not a url"})


def test_unsupported_feature_names_canary_provider_and_fix() -> None:
    error = plugins.UnsupportedFeature(
        _Canary(), "contour", "mirroring", "drop spec.analysis.mirror", providers=["istio"]
    )
    assert isinstance(error, plugins.RouterError)
    assert str(error) == (
        "canary podinfo.test: provider contour does not support mirroring; "
        "providers that do: istio; drop spec.analysis.mirror"
    )
