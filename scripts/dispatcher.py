#!/usr/bin/env python3
"""The seed's dispatcher quick commands, verbatim: the same as the ``videofactory`` command.

python scripts/dispatcher.py status
python scripts/dispatcher.py generate "warrior in mystical forest" --duration 30
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a checkout without installing: the package sits one folder up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from videofactory.cli import app  # noqa: E402

if __name__ == "__main__":
    app(prog_name="dispatcher.py")
