"""The offline demo models of `make dev` and the tests: chat (paced, deterministic text) and media
(real PNG and WAV files), no network."""
