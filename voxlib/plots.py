"""Every figure the notebooks show.

Each function takes tables or arrays, returns a :class:`matplotlib.figure.Figure`
and, when given ``path``, saves it there (PNG; SVG too where asked). Sections
follow the notebooks' order.
"""
from __future__ import annotations

# --- 01 transforms ---

# --- 02 transfer learning ---

# --- 03 results ---

# --- 04 gan cloning ---

# --- 05 reconstruction ---
