"""One module per CLI command: a `Config` dataclass and `run(cfg) -> summary dict`."""
