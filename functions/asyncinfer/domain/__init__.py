"""The bottom layer: the task and its state machine, records, errors, request models, ids, the rules for
outbound addresses and sealed secrets. Pure: no AWS, no network, nothing above it imported."""
