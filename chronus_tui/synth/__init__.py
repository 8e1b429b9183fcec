"""The synth: the audio process, and the only package that imports pyo (through synth.pyolib, never here).

graph.EngineGraph is the signal graph (sequencer, voices, effects) that the audio process
(process.py) and the offline renderer (offline.py) drive. The Session talks to it only
through chronus_tui.engine, the control side of the pipe, which imports no pyo.
"""
