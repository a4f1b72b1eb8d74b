"""Powertools Logger, Metrics and Tracer shared by every handler."""

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "asyncinfer"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=SERVICE, service=SERVICE)
tracer = Tracer(service=SERVICE)
