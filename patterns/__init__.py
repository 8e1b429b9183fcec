"""The factory pattern library (JSON files), shipped inside the package as chronus_tui.patterns."""
