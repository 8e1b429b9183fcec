"""Chronus: a terminal step sequencer over a pyo synth engine, played from the keyboard and over OSC."""

__version__ = "0.1.0"
