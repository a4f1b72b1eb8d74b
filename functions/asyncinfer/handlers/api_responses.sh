#!/bin/sh
# The Responses function's "handler": Lambda Web Adapter's /opt/bootstrap runs this script and forwards each
# invocation to the app once it answers on $PORT (asyncinfer.handlers.api_responses).
export PYTHONPATH="${LAMBDA_TASK_ROOT:-.}${PYTHONPATH:+:$PYTHONPATH}"
exec python3 -m uvicorn asyncinfer.handlers.api_responses:web --host 127.0.0.1 --port "${PORT:-8080}" --no-access-log
