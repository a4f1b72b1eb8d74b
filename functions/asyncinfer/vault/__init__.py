"""Key services that wrap the data keys client secrets are sealed with (asyncinfer.domain.sealing)."""
