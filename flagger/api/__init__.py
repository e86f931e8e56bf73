"""The flagger.app/v1beta1 API: Canary, MetricTemplate and AlertProvider models, validation, CRDs."""
