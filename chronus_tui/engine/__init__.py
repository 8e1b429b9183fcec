"""The engine: the only package that imports pyo (through engine.pyolib, never here).

graph.EngineGraph is the signal graph (sequencer, voices, effects) that the engine
process (process.py) and the offline renderer (render.py) drive; client.py is the
Session's side of the pipe and imports no pyo.
"""
