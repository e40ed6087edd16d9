"""Planners turn a concept and a duration into a shot list."""

from __future__ import annotations

from videofactory.planning.rules import plan_rules

__all__ = ["plan_rules"]
