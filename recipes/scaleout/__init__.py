"""One app on many workers and machines: a shared rate limit on Redis,
Prometheus metrics from every gunicorn worker, and OpenTelemetry tracing."""
