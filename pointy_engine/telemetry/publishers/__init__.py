"""Where telemetry sends metrics: Prometheus, Elasticsearch, Grafana Cloud, OpenTelemetry."""
