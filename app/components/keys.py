"""Keyboard shortcuts for the Review page (a = accept, r = reject, n = next tile needing review), as a tiny
components-v2 script: it listens on the page and reports the key as a one-run trigger value."""
from __future__ import annotations

import streamlit as st

SHORTCUTS = {"a": "accept", "r": "reject", "n": "next"}

_JS = """
export default function (component) {
  const { setTriggerValue } = component;
  const onKey = (evt) => {
    const t = evt.target;
    const typing = t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
    if (typing || evt.ctrlKey || evt.metaKey || evt.altKey) return;
    const key = (evt.key || "").toLowerCase();
    if (["a", "r", "n"].includes(key)) setTriggerValue("key", key);
  };
  window.addEventListener("keydown", onKey);
  return () => window.removeEventListener("keydown", onKey);
}
"""

_KEYS = st.components.v2.component("footprint_studio.keys", js=_JS)


def _keep() -> None:
    """Trigger values only need a rerun; the page reads the value."""


def pressed_shortcut(key: str = "review_keys") -> str | None:
    """The action of the shortcut pressed since the last run ("accept", "reject", "next"), else None."""
    result = _KEYS(key=key, on_key_change=_keep)
    value = result.get("key") if hasattr(result, "get") else None
    return SHORTCUTS.get(str(value).lower()) if value else None
