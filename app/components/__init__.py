"""Offline Streamlit components (components v2, inline HTML/CSS/JS, no build step, no CDN)."""
