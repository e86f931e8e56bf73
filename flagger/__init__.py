"""flagger: progressive delivery for Kubernetes, speaking Flagger's flagger.app/v1beta1 API."""

__version__ = "0.1.0"
