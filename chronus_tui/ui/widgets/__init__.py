"""The main screen's panels, one module per feature."""
