"""What a tick works with: the daemon's clients, plugins, recorders and options
(:class:`Shell`), and the error for a problem that is the user's to fix (:class:`UserError`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import aiohttp

from flagger import options as options_api
from flagger import plugins
from flagger.alerting import notifications
from flagger.api import validation
from flagger.controller import answers as answers_api
from flagger.controller import spec_checks
from flagger.kube import client as kube_client
from flagger.kube import read_trace
from flagger.observability import events, logs
from flagger.observability import metrics as metrics_api
from flagger.workloads import workload_options

API_VERSION = "flagger.app/v1beta1"


log = logs.get_logger("flagger.controller")


class UserError(Exception):
    """A problem with the Canary or what it points at, reported on its status."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Resting:
    """A tick of a canary at rest that changed nothing: what it read, and what it returned."""

    trace: read_trace.Trace
    outcome: Any


@dataclasses.dataclass
class Shell:
    """What a tick needs from the daemon: clients, plugins, recorders and options."""

    kube: kube_client.Kube
    installed: plugins.Plugins
    context: plugins.PluginContext
    answers: answers_api.Answers
    recorder: events.EventRecorder
    metrics: metrics_api.Metrics
    options: options_api.Options
    session: aiohttp.ClientSession
    known: validation.KnownNames
    notifications: notifications.Notifications
    spec_checks: spec_checks.SpecChecks = dataclasses.field(default_factory=spec_checks.SpecChecks)
    """Each Canary's validation, kept while its resourceVersion does not move."""
    resting: dict[tuple[str, str], Resting] = dataclasses.field(default_factory=dict)
    """(namespace, name) -> the last tick of a canary at rest, reused while what it read holds."""

    @property
    def workload_settings(self) -> workload_options.Options:
        prefixes = self.options.include_label_prefix or ("",)
        return workload_options.Options(
            selector_labels=self.options.selector_labels,
            include_label_prefixes=prefixes,
            config_tracking=self.options.enable_config_tracking,
        )
