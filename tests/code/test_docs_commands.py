"""Every `churnops` command the README and the docs show is one the command line accepts, as written. A command line
in a code block parses whole (subcommand, arguments, flags; argparse only, nothing runs); a command named in the
text (`churnops stream replay`) names a subcommand that exists, with flags it has. A renamed flag or a removed
subcommand fails here before a reader meets it. Placeholders (`NAME`, `<version>`, `...`) are the reader's to fill."""
import argparse
import re
import shlex

import pytest

from churnops.cli import build_parser
from tests.conftest import REPO

PLACEHOLDER = re.compile(r"\.\.\.|<[^>]+>|\[|\b[A-Z][A-Z_]{2,}\b|\$\(")


def documented_commands() -> list[tuple[str, str, bool]]:
    "(page, command, whole) for each `churnops` command of the docs: whole for a code block's line, not for a text's."
    found = []
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = page.read_text()
        lines = [(line, True) for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S) for line in block.splitlines()]
        lines += [(span, False) for span in re.findall(r"`(churnops [^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S))]
        for line, whole in lines:
            for part in re.split(r"&&|;|\|", line.split(" #")[0]):
                command = part.strip().removesuffix("&").strip()
                if command.startswith("churnops ") and not PLACEHOLDER.search(command):
                    found.append((page.name, command, whole))
    return found


def subcommand(parser: argparse.ArgumentParser, words: list[str]) -> argparse.ArgumentParser:
    "The parser of the (sub)subcommand `words` name, or an AssertionError naming the first word that is none."
    for word in [w for w in words if not w.startswith("-")]:
        choices = [a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not choices:
            break  # the rest are the subcommand's arguments
        assert word in choices[0], f"no subcommand {word!r} (there are {sorted(choices[0])})"
        parser = choices[0][word]
    return parser


def test_the_docs_show_the_commands():
    commands = {command.split()[1] for _, command, _ in documented_commands()}
    assert {"run", "stage", "serve", "stream", "registry", "experiment", "cluster-run", "example-data"} <= commands


@pytest.mark.parametrize("page,command,whole", documented_commands())
def test_a_documented_command_is_one_churnops_accepts(page, command, whole):
    words = shlex.split(command)[1:]
    if whole:
        try:
            build_parser().parse_args(words)
        except SystemExit as stop:
            assert stop.code == 0, f"{page}: `{command}` is not a command churnops accepts"
        return
    parser = subcommand(build_parser(), words)
    flags = {option for action in parser._actions for option in action.option_strings}
    unknown = [w.split("=")[0] for w in words if w.startswith("-") and w.split("=")[0] not in flags]
    assert unknown == [], f"{page}: `{command}`: {parser.prog} has no {unknown}"
