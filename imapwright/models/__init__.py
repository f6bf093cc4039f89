"""Reference models in plain Python that suites compare real servers against."""
