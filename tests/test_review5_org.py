"""Review 5 (issue 12): reproductions of defects found in the organisations' features.
Each test fails on main as it is."""

from __future__ import annotations
