"""README matches the CLI: every `flowalign ...` and `make ...` command line it shows parses today."""

import re
import shlex
from pathlib import Path

import pytest

from flowalign_nb.cli import build_parser
from flowalign_nb.tasks.task import parse_method
from flowalign_nb.plugins import get_registry

ROOT = Path(__file__).resolve().parent.parent
READMES = [ROOT / "README.md", *sorted(ROOT.glob("plugins/*/README.md"))]
SHELL_OPERATORS = {";", "&&", "||", "|", "&", "(", ")", "$("}


def code_lines(text: str) -> list[str]:
    """Lines of the fenced code blocks that are not Python, and every inline code span."""
    lines, fence = [], None
    for line in text.splitlines():
        marker = re.match(r"\s*```(\w*)", line)
        if marker:
            fence = None if fence is not None else marker.group(1)
            continue
        if fence is not None and fence not in ("python", "toml"):
            lines.append(line)
    outside = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    return lines + re.findall(r"`([^`\n]+)`", outside)


def commands(program: str) -> list[tuple[str, list[str]]]:
    """``(source line, argv after the program)`` for each use of ``program`` in the READMEs' code."""
    found = []
    for readme in READMES:
        for line in code_lines(readme.read_text(encoding="utf-8")):
            if not re.search(rf"(^|[\s/]){program}(\s|$)", line):
                continue
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split, lexer.commenters = True, "#"
            tokens = list(lexer)
            for i, token in enumerate(tokens):
                if token == program or token.endswith(f"/{program}"):
                    rest = tokens[i + 1:]
                    end = next((k for k, t in enumerate(rest) if t in SHELL_OPERATORS), len(rest))
                    found.append((f"{readme.relative_to(ROOT)}: {line.strip()}", rest[:end]))
    return found


FLOWALIGN = commands("flowalign")
MAKE = commands("make")


def test_the_readmes_show_commands():
    assert len(FLOWALIGN) >= 10 and len(MAKE) >= 5  # the extraction itself finds what is there


@pytest.mark.parametrize("line, argv", FLOWALIGN, ids=[line for line, _ in FLOWALIGN])
def test_every_flowalign_command_line_parses(line, argv):
    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices
    if len(argv) == 1:  # prose naming a command, e.g. `flowalign plugins`
        assert argv[0] in subcommands, line
        return
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        if exc.code == 0 and {"-h", "--help"} & set(argv):  # `flowalign demo --help` prints the help
            return
        pytest.fail(f"does not parse with the current CLI: {line}")
    task = getattr(args, "task", None)
    if task is not None and not task.isupper():  # TASK is a placeholder
        assert task in get_registry("task"), line
    for method in getattr(args, "methods", None) or [getattr(args, "method", None)] * (args.command == "fit"):
        parse_method(method)  # raises naming the unknown method


@pytest.mark.parametrize("line, argv", MAKE, ids=[line for line, _ in MAKE])
def test_every_make_target_exists(line, argv):
    targets = set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))
    named = [a for a in argv if "=" not in a and not a.startswith("-")]
    assert named and set(named) <= targets, f"{line}: targets {sorted(targets)}"
