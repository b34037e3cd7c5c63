"""What a row is held to: a architecture §6 budget."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """A limit on the extra ns over the bare app (or over the bare app
    served the same way, see `Case.baseline`) and/or on the ratio
    ``peer / this`` (above 1: this row is faster than its peer)."""

    text: str
    max_extra_ns: float | None = None
    min_ratio: float | None = None

    def holds(self, extra_ns: float, ratio: float | None, scale: float = 1.0) -> bool:
        """Whether the figures meet the budget, its ns limit multiplied by
        ``scale`` (ratios compare two figures from one machine: not scaled)."""
        if self.max_extra_ns is not None and extra_ns > self.max_extra_ns * scale:
            return False
        return self.min_ratio is None or (ratio is not None and ratio >= self.min_ratio)
