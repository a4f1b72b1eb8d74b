"""Limits that more than one layer (and the CDK stack) must agree on."""

# API Gateway ends a stream after 15 minutes: a stream closes itself first, and the client resumes.
MAX_STREAM_SECONDS = 840
