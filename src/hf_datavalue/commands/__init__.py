"""Sub-commands of the `hf-datavalue` CLI, one module each (see `hf_datavalue.cli`)."""
