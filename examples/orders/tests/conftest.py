"""The orders tests import the functions' code as Lambda does: from `functions/` on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
FUNCTIONS = PROJECT / "functions"
if str(FUNCTIONS) not in sys.path:
    sys.path.insert(0, str(FUNCTIONS))
