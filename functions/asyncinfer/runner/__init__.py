"""The long-task runner's logic: a long task as replay-safe steps on a Lambda durable function
(asyncinfer.handlers.runner), claimed as the worker claims (asyncinfer.tasks.claims)."""
