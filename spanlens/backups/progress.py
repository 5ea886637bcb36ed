"""A one-line progress bar per step, for the backup and restore commands."""
from __future__ import annotations

WIDTH = 24


class ProgressBar:
    def __init__(self, out, total_steps: int):
        self.out = out
        self.total = total_steps
        self.names: list[str] = []
        self.last: tuple[str, int] | None = None

    def __call__(self, name: str, done: float) -> None:
        if name not in self.names:
            self.names.append(name)
        filled = int(round(max(0.0, min(done, 1.0)) * WIDTH))
        key = (name, filled)
        if key == self.last:
            return
        self.last = key
        bar = "█" * filled + "·" * (WIDTH - filled)
        end = "\n" if done >= 1.0 else "\r"
        self.out.write(f"[{len(self.names)}/{self.total}] {name:<12} {bar} {int(done * 100):3d}%", ending=end)
        self.out.flush()
