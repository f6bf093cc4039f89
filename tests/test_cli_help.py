"""The command lists of `--help` read as prose: each command's first paragraph on its own, not cut
where its docstring's source lines end."""

import inspect

from typer.main import get_command
from typer.testing import CliRunner

from imapwright.cli.app import app


def test_the_command_list_joins_a_docstrings_lines():
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "400", "TERMINAL_WIDTH": "400"})
    assert result.exit_code == 0, result.output
    group = get_command(app)
    setup = group.commands["setup"]
    first = " ".join(inspect.cleandoc(setup.help).split("\n\n")[0].split())
    assert "\n" in inspect.cleandoc(setup.help).split("\n\n")[0]  # the premise: a docstring over two lines
    assert first in result.output, result.output
