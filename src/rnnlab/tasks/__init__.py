"""One module per job: each wires a dataset, a model, ``fit`` and a run folder."""
