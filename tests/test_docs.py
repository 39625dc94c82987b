"""The docs name only what exists: CLI commands and their options, HTTP routes, settings, links, folders."""

import argparse
import re
import subprocess
from functools import cache
from pathlib import Path
from unittest import mock

import pytest
from markdown.extensions.toc import slugify

from suppressor.api import cli
from suppressor.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
METHODS = "GET|POST|PUT|PATCH|DELETE"
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def code_segments(text: str) -> list[str]:
    """The text's code: each line of a fenced block, and each inline code span (on one line)."""
    fenced = [line for block in FENCE.findall(text) for line in block.splitlines()[1:-1]]
    inline = [span.replace("\n", " ") for span in re.findall(r"`([^`]+)`", FENCE.sub("", text))]
    return fenced + inline


class _Built(Exception):
    """Raised in place of parsing, carrying the parser that was about to parse."""


def _parser(build, *args, **kwargs) -> argparse.ArgumentParser:
    """The parser ``build`` makes, caught when it is about to parse (cli.main builds its parser inline)."""

    def catch(self, *_, **__):
        raise _Built(self)

    with mock.patch.object(argparse.ArgumentParser, "parse_args", catch), pytest.raises(_Built) as built:
        build(*args, **kwargs)
    return built.value.args[0]


def _tree(parser: argparse.ArgumentParser) -> dict:
    """A parser's options and its subcommands' trees."""
    subs = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            subs.update({name: _tree(p) for name, p in action.choices.items()})
    options = {s for action in parser._actions for s in action.option_strings}
    return {"options": options, "commands": subs}


@cache
def commands() -> dict:
    """The `suppressor` command line as cli.main builds it; `train` is training's own parser."""
    from suppressor.training.__main__ import main as train_main

    tree = _tree(_parser(cli.main, ["--help"]))
    tree["commands"]["train"] = _tree(_parser(train_main, ["--help"]))
    return tree


def unknown_commands(text: str) -> list[str]:
    """`suppressor <command> [<subcommand>] [--option ...]` in the text's code that the CLI does not have."""
    wrong = []
    for segment in code_segments(text):
        # a command line: at the start, after a shell operator or VAR=value; "... suppressor suppressor keys"
        # runs the Docker image's CLI. Not "deferred by suppressor until" in a reply's text.
        for m in re.finditer(r"(?:^|&&|;|\||\bsuppressor)\s*(?:\w+=\S*\s+)*suppressor((?: [a-z][\w-]*)+)", segment):
            words = m.group(1).split()
            while words and words[0] == "suppressor":
                words.pop(0)
            if not words:
                continue
            node, named = commands(), ["suppressor"]
            for word in words:
                if not node["commands"]:
                    break
                named.append(word)
                if word not in node["commands"]:
                    wrong.append(" ".join(named))
                    node = None
                    break
                node = node["commands"][word]
            if node is None:
                continue
            rest = re.split(r"#|&&|;|\|", segment[m.end() :])[0]
            wrong += [
                f"{' '.join(named)} {o}"
                for o in re.findall(r"(?<!\S)(--[a-z][\w-]*)", rest)
                if o not in node["options"]
            ]
    return wrong


@cache
def routes() -> list[tuple[str, re.Pattern]]:
    """(method, path pattern) of every operation in the app's OpenAPI document and every route kept out of it."""
    from suppressor.api.app import create_app

    app = create_app()

    def pattern(template: str) -> re.Pattern:
        parts = re.split(r"\{[^}]+\}", template)
        return re.compile("[^/]+".join(map(re.escape, parts)) + "$")

    found = [(method.upper(), pattern(path)) for path, ops in app.openapi()["paths"].items() for method in ops]
    found += [
        (method, pattern(re.sub(r":\w+\}", "}", route.path)))
        for route in app.routes
        if getattr(route, "include_in_schema", True) is False
        for method in getattr(route, "methods", None) or ()
    ]
    return found


def unknown_routes(text: str) -> list[str]:
    """`METHOD /path` (or `GET/PUT /path`) in the text, and curl's `$U/path`, that the app does not serve."""
    named = []
    for m in re.finditer(rf"\b((?:{METHODS})(?:/(?:{METHODS}))*) (/[^\s`)\]'\",;?]*)", text):
        named += [(method, m.group(2).rstrip(".:")) for method in m.group(1).split("/")]
    named += [(None, path) for path in re.findall(r"\$U(/[^\s\"'?;]*)", text)]
    return [
        f"{method or 'any method'} {path}"
        for method, path in named
        if not any((method in (None, m)) and p.match(path) for m, p in routes())
    ]


@cache
def setting_names() -> set[str]:
    """Every environment variable Settings reads (pydantic-settings: prefix + field name, or its aliases),
    and the ones the test harness reads."""
    prefix = Settings.model_config["env_prefix"]
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names |= {c.upper() for c in alias.choices} if alias is not None else {f"{prefix}{name}".upper()}
    for source in (ROOT / "tests").rglob("*.py"):
        names |= set(re.findall(r"os\.environ\.get\(\s*\"(SUPPRESSOR_\w+)\"", source.read_text()))
    return names


def unknown_settings(text: str) -> list[str]:
    """`SUPPRESSOR_*` names in the text that are neither a setting nor read by the tests."""
    return sorted({n.rstrip("_") for n in re.findall(r"\bSUPPRESSOR_[A-Z0-9_]+", text)} - setting_names())


def anchors(page: Path) -> set[str]:
    """The heading anchors of a Markdown page, as Python-Markdown's toc (MkDocs) makes them."""
    headings = re.findall(r"^#{1,6} (.+)$", FENCE.sub("", page.read_text()), re.M)
    return {slugify(re.sub(r"[`*]", "", h).strip(), "-") for h in headings}


def broken_links(page: Path, text: str) -> list[str]:
    """Relative links of the page whose file, or whose heading anchor, does not exist."""
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", re.sub(r"`[^`]*`", "", FENCE.sub("", text))):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists() or anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(target)
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_command_route_setting_and_link_exists(page):
    text = page.read_text()
    assert not unknown_commands(text), f"not commands or options of the CLI: {unknown_commands(text)}"
    assert not unknown_routes(text), f"not routes of the app: {unknown_routes(text)}"
    assert not unknown_settings(text), f"not fields of suppressor/settings.py: {unknown_settings(text)}"
    assert not broken_links(page, text), f"links that do not resolve: {broken_links(page, text)}"


def test_the_checks_catch_a_wrong_name():
    page = ROOT / "docs" / "index.md"
    assert unknown_commands(
        "`suppressor keys rotate --tenant a`, `suppressor serve --threads 2`, "
        "`suppressor train --tenant a --rounds 3`, `X=1 suppressor lift --tenant a --weekly`"
    ) == [
        "suppressor keys rotate",
        "suppressor serve --threads",
        "suppressor train --rounds",
        "suppressor lift --weekly",
    ]
    assert (
        unknown_commands(
            "```\nsuppressor keys create --tenant a  # --nope is a comment\n```\n"
            "`451 deferred by suppressor until 10:00`"
        )
        == []
    )
    assert unknown_routes("`POST /v1/decision`, `GET/DELETE /v1/policy`, `GET /v1/content/x`, `GET /healthz`") == [
        "POST /v1/decision",
        "DELETE /v1/policy",
    ]
    assert unknown_settings("`SUPPRESSOR_DECISION_DEADLINE_MS`, `SUPPRESSOR_DEADLINE_MS`") == ["SUPPRESSOR_DEADLINE_MS"]
    assert broken_links(page, "[a](api.md#households) [b](api.md#nope) [c](nothere.md)") == [
        "api.md#nope",
        "nothere.md",
    ]


def test_the_readme_maps_every_folder():
    """The README's map lists every tracked folder at the top and under the packages, and no other."""
    readme = (ROOT / "README.md").read_text()
    block = next(b for b in FENCE.findall(readme[readme.index("## Map of the tree") :]))
    mapped, stack = set(), []
    for indent, name in re.findall(r"^( *)(\S+)/ ", block, re.M):
        stack[len(indent) // 2 :] = [name]
        mapped.add("/".join(stack))
    try:
        files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    folders = {str(Path(f).parent) for f in files.splitlines()} - {"."}
    folders |= {str(p) for f in folders for p in Path(f).parents} - {"."}
    assert mapped == folders, (
        f"missing from the map: {sorted(folders - mapped)}; not folders: {sorted(mapped - folders)}"
    )
