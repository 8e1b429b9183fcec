"""Command palette provider: every action of the one registry, with its keys.

The palette reads a hit's help as markup: it gets the keys escaped, so `[` shows as `[`.
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape

from chronus_tui.ui.actions import ACTIONS, UiAction


def _label(action: UiAction) -> str:
    return f"{action.group}: {action.title}"


def _help(action: UiAction) -> str:
    return escape(f"keys: {action.keys_display}") if action.keys else "no key: run it from here"


class ActionsProvider(Provider):
    def _commands(self) -> list[tuple[str, UiAction]]:
        return [(_label(each), each) for a in ACTIONS for each in a.each_key()]

    async def _run(self, action: UiAction) -> None:
        # Palette commands always target the app's action, whichever panel had focus.
        await self.app.run_action(action.action)

    async def discover(self) -> Hits:
        for label, action in self._commands():
            yield DiscoveryHit(label, partial(self._run, action), help=_help(action))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, action in self._commands():
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), partial(self._run, action), help=_help(action))
