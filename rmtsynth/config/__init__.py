"""The config layer: the schema of every key, reading configs, resolving parameters to the model."""
