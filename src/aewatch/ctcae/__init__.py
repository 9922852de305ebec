"""ctcae."""
