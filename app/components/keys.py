"""The review map's keyboard, following iD and Rapid where they have a convention (and the app's own earlier
a / r / n). The map component (review_map/src/index.js, ``key``) implements them; this list is what its ``?``
overlay and the README show. No shortcut fires while the focus is in a text field."""
from __future__ import annotations

KEYS: tuple[tuple[str, str], ...] = (
    ("click / shift-click", "select a building / add or remove it"),
    ("shift-drag", "box select"),
    ("A", "accept the selection"),
    ("R", "reject the selection"),
    ("Shift+A", "accept the rest of the tile (every pending building)"),
    ("3 or D", "draw a building: click corners, Enter or the first corner finishes, Esc cancels"),
    ("drag a corner", "move that corner (selected building)"),
    ("click an edge / a corner", "insert a corner there / delete that corner (selected building)"),
    ("X", "split the selected building along a line you click (Enter finishes)"),
    ("C", "merge the selected buildings"),
    ("Q", "square the corners of the selected building"),
    ("M", "move the selected building (drag it)"),
    ("Delete / Backspace", "delete the selection"),
    ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo (this tile)"),
    ("N", "next tile needing review (zoom and tool are kept)"),
    ("Esc", "cancel drawing, leave the tool, clear the selection"),
    ("?", "show or hide this list"),
)
