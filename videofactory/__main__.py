"""``python -m videofactory`` is the ``videofactory`` command."""

from videofactory.cli import app

app(prog_name="videofactory")
