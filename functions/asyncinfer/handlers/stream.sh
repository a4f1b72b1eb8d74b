#!/bin/sh
# The streaming function's "handler": Lambda Web Adapter's /opt/bootstrap runs this script and
# forwards each invocation to the app once it answers on $PORT.
export PYTHONPATH="${LAMBDA_TASK_ROOT:-.}${PYTHONPATH:+:$PYTHONPATH}"
exec python3 -m uvicorn asyncinfer.handlers.stream:app --host 127.0.0.1 --port "${PORT:-8080}" --no-access-log
