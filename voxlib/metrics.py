"""Numbers that judge the results: classification accuracy with confidence
intervals, image distances, and objective measures of cloned speech.
"""
from __future__ import annotations

# --- classification (notebook 02) ---

# --- images (notebook 04) ---

# --- speech and cloning (notebook 05) ---
