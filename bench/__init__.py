"""The feedsvc benchmark suite: corpus generator, baselines and the harness (`make bench`)."""
