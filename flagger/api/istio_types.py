"""Istio structures embedded in a Canary's ``spec.service`` and ``spec.analysis.match``.

Flagger copies these into the VirtualService and DestinationRules it generates. They are
modelled as far as Flagger's CRD schema describes them (the API server prunes the rest),
including the CRD's ``oneOf`` rules, which are enforced by model validators.
"""

from __future__ import annotations

from typing import Literal

import pydantic

from flagger.api import common
from flagger.api.common import field

_RE2 = "RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)."


class StringMatch(common.FlaggerModel):
    """An Istio string match: at most one of ``exact``, ``prefix`` or ``regex``."""

    model_config = pydantic.ConfigDict(
        json_schema_extra={common.CRD_ONE_OF_KEY: [[], ["exact"], ["prefix"], ["regex"]]}
    )

    exact: str | None = field("Exact string match")
    prefix: str | None = field("Prefix-based match")
    regex: str | None = field(_RE2)

    @pydantic.model_validator(mode="after")
    def _one_kind(self) -> StringMatch:
        common.check_one_of(self, ("exact", "prefix", "regex"), exactly=False)
        return self


class OriginMatch(common.FlaggerModel):
    """A CORS origin pattern: exactly one of ``exact``, ``prefix`` or ``regex``."""

    model_config = pydantic.ConfigDict(
        json_schema_extra={common.CRD_ONE_OF_KEY: [["exact"], ["prefix"], ["regex"]]}
    )

    exact: str | None = field("Exact string match")
    prefix: str | None = field("Prefix-based match")
    regex: str | None = field("Regex match")

    @pydantic.model_validator(mode="after")
    def _one_kind(self) -> OriginMatch:
        common.check_one_of(self, ("exact", "prefix", "regex"), exactly=True)
        return self


class HeaderMatch(common.FlaggerModel):
    """An A/B header match: exactly one of ``exact``, ``prefix``, ``suffix`` or ``regex``."""

    model_config = pydantic.ConfigDict(
        json_schema_extra={
            common.CRD_ONE_OF_KEY: [["exact"], ["prefix"], ["suffix"], ["regex"]],
        }
    )

    exact: str | None = field("Exact string match")
    prefix: str | None = field("Prefix-based match")
    suffix: str | None = field("Suffix-based match")
    regex: str | None = field(_RE2)

    @pydantic.model_validator(mode="after")
    def _one_kind(self) -> HeaderMatch:
        common.check_one_of(self, ("exact", "prefix", "suffix", "regex"), exactly=True)
        return self


class HTTPMatchRequest(common.FlaggerModel):
    """Istio HTTPMatchRequest: the conditions of ``spec.service.match`` (URI match conditions)."""

    authority: StringMatch | None = field("Authority (host) match")
    gateways: list[str] | None = field("Names of gateways where the rule should be applied.")
    headers: dict[str, StringMatch] | None = field("Header matches")
    ignore_uri_case: bool | None = field(
        "Flag to specify whether the URI matching should be case-insensitive."
    )
    method: StringMatch | None = field("HTTP method match")
    name: str | None = field("The name assigned to a match.")
    port: common.Integer | None = field("Specifies the ports on the host that is being addressed.")
    query_params: dict[str, StringMatch] | None = field("Query parameters for matching.")
    scheme: StringMatch | None = field("URI scheme match")
    source_labels: dict[str, str] | None = field("Source workload labels")
    source_namespace: str | None = field(
        "Source namespace constraining the applicability of a rule to workloads in that namespace."
    )
    uri: StringMatch | None = field("URI match")
    without_headers: dict[str, StringMatch] | None = field(
        "withoutHeader has the same syntax with the header, but has opposite meaning."
    )


class CanaryMatch(common.FlaggerModel):
    """An A/B testing condition of ``spec.analysis.match`` (headers, query parameters, labels)."""

    headers: dict[str, HeaderMatch] | None = field("Header matches")
    query_params: dict[str, StringMatch] | None = field("Query parameters for matching.")
    source_labels: dict[str, str] | None = field(
        "Applicable only when the 'mesh' gateway is included in the service.gateways list"
    )


class HTTPRetry(common.FlaggerModel):
    """Retry policy for HTTP requests."""

    attempts: common.Int32 | None = field("Number of retries for a given request")
    per_try_timeout: str | None = field("Timeout per retry attempt for a given request")
    retry_on: str | None = field("Specifies the conditions under which retry takes place")


class HTTPRewrite(common.FlaggerModel):
    """Rewrite HTTP URIs and Authority headers."""

    uri: str | None = field("Rewrite the path (or the prefix) portion of the URI")
    authority: str | None = field("Rewrite the Authority/Host header")
    type: str | None = field("Rewrite type (Gateway API)")


class HeaderOperations(common.FlaggerModel):
    """Header manipulations: add, set and remove."""

    add: dict[str, str] | None = field("Append the given values to the headers")
    remove: list[str] | None = field("Remove the specified headers")
    set: dict[str, str] | None = field("Overwrite the headers specified by key")


class Headers(common.FlaggerModel):
    """Header operations on requests and responses."""

    request: HeaderOperations | None = field("Header manipulation rules to apply before forwarding")
    response: HeaderOperations | None = field("Header manipulation rules to apply before returning")


class CorsPolicy(common.FlaggerModel):
    """Istio Cross-Origin Resource Sharing policy (CORS)."""

    allow_credentials: bool | None = field("Allow credentials")
    allow_headers: list[str] | None = field("Allowed request headers")
    allow_methods: list[str] | None = field("List of HTTP methods allowed to access the resource")
    allow_origin: list[str] | None = field(
        "The list of origins that are allowed to perform CORS requests."
    )
    allow_origins: list[OriginMatch] | None = field("String patterns that match allowed origins")
    expose_headers: list[str] | None = field("Exposed response headers")
    max_age: str | None = field("How long the results of a preflight request can be cached")


class HTTPSettings(common.FlaggerModel):
    """HTTP connection pool settings."""

    h2_upgrade_policy: Literal["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"] | None = field(
        "Specify if http1.1 connection should be upgraded to http2 for the associated destination."
    )
    http1_max_pending_requests: common.Int32 | None = field(
        "Maximum number of pending HTTP requests to a destination."
    )
    http2_max_requests: common.Int32 | None = field("Maximum number of requests to a backend.")
    idle_timeout: str | None = field("The idle timeout for upstream connection pool connections.")
    max_requests_per_connection: common.Int32 | None = field(
        "Maximum number of requests per connection to a backend."
    )
    max_retries: common.Int32 | None = field("Maximum number of retries")


class ConnectionPoolSettings(common.FlaggerModel):
    """Connection pool settings of the DestinationRules."""

    http: HTTPSettings | None = field("HTTP connection pool settings.")


class HTTPCookie(common.FlaggerModel):
    """Hash based on an HTTP cookie."""

    name: str | None = field("Name of the cookie.")
    path: str | None = field("Path to set for the cookie.")
    ttl: str | None = field("Lifetime of the cookie.")


class ConsistentHashLB(common.FlaggerModel):
    """Consistent hashing: exactly one of the hash keys below."""

    model_config = pydantic.ConfigDict(
        json_schema_extra={
            common.CRD_ONE_OF_KEY: [
                ["httpHeaderName"],
                ["httpCookie"],
                ["useSourceIp"],
                ["httpQueryParameterName"],
            ]
        }
    )

    http_cookie: HTTPCookie | None = field("Hash based on HTTP cookie.")
    http_header_name: str | None = field("Hash based on a specific HTTP header.")
    http_query_parameter_name: str | None = field("Hash based on a specific HTTP query parameter.")
    minimum_ring_size: common.Integer | None = field("Minimum number of virtual nodes")
    use_source_ip: bool | None = field("Hash based on the source IP address.")

    @pydantic.model_validator(mode="after")
    def _one_key(self) -> ConsistentHashLB:
        keys = ("http_header_name", "http_cookie", "use_source_ip", "http_query_parameter_name")
        common.check_one_of(self, keys, exactly=True)
        return self


class LocalityDistribute(common.FlaggerModel):
    """Traffic distribution from one locality to others."""

    from_: str | None = pydantic.Field(
        default=None, alias="from", description="Originating locality, '/' separated, e.g."
    )
    to: dict[str, common.Integer] | None = field(
        "Map of upstream localities to traffic distribution weights."
    )


class LocalityFailover(common.FlaggerModel):
    """Failover from one region to another."""

    from_: str | None = pydantic.Field(
        default=None, alias="from", description="Originating region."
    )
    to: str | None = field("Destination region")


class LocalityLbSetting(common.FlaggerModel):
    """Locality-weighted load balancing."""

    distribute: list[LocalityDistribute] | None = field(
        "Optional: only one of distribute or failover can be set."
    )
    enabled: bool | None = field(
        "enable locality load balancing, this is DestinationRule-level and will override mesh "
        "wide settings in entirety."
    )
    failover: list[LocalityFailover] | None = field(
        "Optional: only failover or distribute can be set."
    )


class LoadBalancerSettings(common.FlaggerModel):
    """Settings controlling the load balancer algorithms: ``simple`` or ``consistentHash``."""

    model_config = pydantic.ConfigDict(
        json_schema_extra={common.CRD_ONE_OF_KEY: [["simple"], ["consistentHash"]]}
    )

    consistent_hash: ConsistentHashLB | None = field("Consistent hashing load balancing")
    locality_lb_setting: LocalityLbSetting | None = field("Locality load balancing settings")
    simple: (
        Literal["ROUND_ROBIN", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "LEAST_REQUEST"] | None
    ) = field("Standard load balancing algorithm")
    warmup_duration_secs: str | None = field("Represents the warmup duration of Service.")

    @pydantic.model_validator(mode="after")
    def _one_policy(self) -> LoadBalancerSettings:
        common.check_one_of(self, ("simple", "consistent_hash"), exactly=True)
        return self


class OutlierDetection(common.FlaggerModel):
    """Settings controlling eviction of unhealthy hosts from the load balancing pool."""

    base_ejection_time: str | None = field("Minimum ejection duration.")
    consecutive_5xx_errors: common.Integer | None = pydantic.Field(
        default=None,
        alias="consecutive5xxErrors",
        description="Number of 5xx errors before a host is ejected from the connection pool.",
    )
    consecutive_errors: common.Int32 | None = field("Number of errors before ejection")
    consecutive_gateway_errors: common.Int32 | None = field(
        "Number of gateway errors before a host is ejected from the connection pool."
    )
    consecutive_local_origin_failures: common.Int32 | None = field(
        "Number of consecutive locally originated failures before ejection."
    )
    interval: str | None = field("Time interval between ejection sweep analysis.")
    max_ejection_percent: common.Int32 | None = field("Maximum % of hosts that can be ejected")
    min_health_percent: common.Int32 | None = field("Minimum % of healthy hosts")
    split_external_local_origin_errors: bool | None = field(
        "Determines whether to distinguish local origin failures from external errors."
    )


class ClientTLSSettings(common.FlaggerModel):
    """Istio TLS related settings for connections to the upstream service."""

    ca_certificates: str | None = field("CA certificates file")
    client_certificate: str | None = field("REQUIRED if mode is `MUTUAL`.")
    mode: Literal["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"] | None = field("TLS mode")
    private_key: str | None = field("REQUIRED if mode is `MUTUAL`.")
    sni: str | None = field("SNI string to present to the server during TLS handshake.")
    subject_alt_names: list[str] | None = field("Alternate names to verify the subject identity")


class TrafficPolicy(common.FlaggerModel):
    """Istio traffic policy, copied into the primary and canary DestinationRules."""

    connection_pool: ConnectionPoolSettings | None = field("Connection pool settings")
    load_balancer: LoadBalancerSettings | None = field(
        "Settings controlling the load balancer algorithms."
    )
    outlier_detection: OutlierDetection | None = field(
        "Settings controlling eviction of unhealthy hosts from the load balancing pool."
    )
    tls: ClientTLSSettings | None = field(
        "Istio TLS related settings for connections to the upstream service"
    )
