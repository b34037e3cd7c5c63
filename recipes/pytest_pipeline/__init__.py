"""Testing a pipeline in your own pytest suite: see ``test_pipeline.py``."""
