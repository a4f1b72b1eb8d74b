"""The emulator's contract tests: what the local stack relies on the emulator answering as AWS does (or as
moto itself does, where a workaround takes moto's place). `make test` runs them (pyproject's testpaths)."""
