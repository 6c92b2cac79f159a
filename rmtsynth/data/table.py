"""A results table: columns in order and one mapping per row, as the CSV files hold them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Table:
    """A results table: ``columns`` in order and one mapping per row (the CSV's content)."""

    columns: list[str]
    rows: list[dict[str, Any]]
    info: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def column(self, name: str) -> np.ndarray:
        """One column as an array."""
        return np.asarray([row.get(name) for row in self.rows])

    def to_pandas(self):
        """The table as a :class:`pandas.DataFrame` (pandas is not a dependency: install it to use this)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Table.to_pandas needs pandas; install it with 'pip install pandas'.") from None
        return pd.DataFrame(self.rows, columns=self.columns)

    def __len__(self) -> int:
        return len(self.rows)
