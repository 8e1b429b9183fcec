"""The engine's control side: what the Session uses to drive the audio process. No pyo here.

client.py starts and restarts the audio process (chronus_tui.synth.process) and speaks to it
over a pipe (wire.py); backends.py chooses and checks the audio backend. The pyo code itself
lives in chronus_tui.synth.
"""
