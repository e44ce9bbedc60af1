"""CDK constructs of Watershed, one module per concern; the stack is assembled in infra/stack.py."""

from __future__ import annotations

import sys
from pathlib import Path

# infra/ reads the route table and the table models from the layer's `watershed` package.
_LAYER = str(Path(__file__).resolve().parent.parent / "layers" / "core" / "python")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)
