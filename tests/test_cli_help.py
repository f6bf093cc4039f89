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


def _commands(group, path=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_every_options_help_shows_whole():
    """Rich markup must not eat a help text's brackets (e.g. "[[log_noise]]" showed as "[]")."""
    lost = []
    for path, command in _commands(get_command(app)):
        result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "3000", "TERMINAL_WIDTH": "3000"})
        assert result.exit_code == 0, (path, result.output)
        shown = " ".join(result.output.split())
        for param in command.params:
            text = " ".join((getattr(param, "help", None) or "").replace("\\[", "[").split())  # rich escape
            if text and text not in shown:
                lost.append(f"{' '.join(path)} {param.name}: {text}")
    assert lost == []
