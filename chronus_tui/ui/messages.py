"""Messages the UI posts to itself."""

from __future__ import annotations

from textual.message import Message


class SessionChanged(Message):
    """The Session changed; the app drains its inbox of Changes on the UI thread.

    One message stands for every Change queued since the last one was handled, so a
    flood of OSC edits costs one redraw per frame rather than one per edit.
    """
