"""Powertools Logger and Metrics shared by every handler; traces are OpenTelemetry's (`tracing`)."""

from aws_lambda_powertools import Logger, Metrics

SERVICE = "asyncinfer"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=SERVICE, service=SERVICE)
