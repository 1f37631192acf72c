"""The docs name only files the repository has: every relative link (and its #anchor) and every
repository path written as code in README.md, MODEL_ZOO.md, docs/*.md and the config READMEs.
Runs inside the image too (.dockerignore keeps the docs and everything they name)."""
from __future__ import annotations

import re
from pathlib import Path

from conftest import REPO

DOCS = sorted([REPO / 'README.md', REPO / 'MODEL_ZOO.md', *(REPO / 'docs').glob('*.md'),
               *(REPO / 'configs').glob('**/README.md')])
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')
CODE_SPAN = re.compile(r'`([^`\n]+)`')
# a path of the kit written as code: starts at a top-level folder or file of the repository
# (not after another path part: instance_segmentation/configs/... is the research's)
TOP = ('configs', 'tools', 'docs', 'scripts', 'iif', 'tests', 'benchmarks', 'docker', '.ci')
REPO_PATH = re.compile(r'(?<![\w/.:-])((?:' + '|'.join(re.escape(t) for t in TOP)
                       + r')/[\w./-]*|(?:compose(?:\.\w+)?\.yaml|Makefile|requirements\.lock|'
                       r'pyproject\.toml|MODEL_ZOO\.md|LICENSE))(?![\w<>*{}\[/])')


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r'[^\w\- ]', '', heading.strip().lower())
    return text.replace(' ', '-')


def anchors(path: Path) -> set:
    text = re.sub(r'(?ms)^```.*?^```', '', path.read_text(encoding='utf-8'))
    return {slug(m) for m in re.findall(r'^#+ (.+)$', text, re.M)}


def code_texts(text: str):
    yield from CODE_SPAN.findall(text)
    for block in re.findall(r'(?m)(?:^(?: {4}|\t).*\n?)+', text):
        if not re.match(r'\s*[-*|]', block):
            yield block


def test_the_docs_exist():
    names = {p.relative_to(REPO).as_posix() for p in DOCS}
    for expected in ('README.md', 'MODEL_ZOO.md', 'docs/data.md', 'docs/evaluation.md',
                     'docs/reproduction.md', 'docs/development.md', 'docs/security.md',
                     'configs/iif/README.md', 'configs/zoo/README.md'):
        assert expected in names


def test_relative_links_name_existing_files_and_headings():
    broken = []
    for doc in DOCS:
        prose = CODE_SPAN.sub('', doc.read_text(encoding='utf-8'))  # `[old](new)` is quoted
        for target in LINK.findall(prose):
            if re.match(r'[a-z]+:', target):  # https:, mailto:
                continue
            path, _, anchor = target.partition('#')
            dest = (doc.parent / path).resolve() if path else doc
            where = f'{doc.relative_to(REPO)}: ({target})'
            if not dest.exists():
                broken.append(f'{where}: no such file')
            elif anchor and dest.suffix == '.md' and anchor not in anchors(dest):
                broken.append(f'{where}: no heading #{anchor} in {dest.relative_to(REPO)}')
    assert not broken, '\n'.join(broken)


def test_repository_paths_written_as_code_exist():
    missing = []
    for doc in DOCS:
        for code in code_texts(doc.read_text(encoding='utf-8')):
            for path in REPO_PATH.findall(code):
                path = path.rstrip('.,;:')
                if '...' in path or not (REPO / path).exists():
                    if '...' not in path:
                        missing.append(f'{doc.relative_to(REPO)}: `{path}`')
    assert not missing, '\n'.join(missing)


def test_the_checker_sees_a_broken_path(tmp_path):
    """The patterns above must catch what they are for (guards against a regex that matches
    nothing)."""
    text = ('see `configs/iif/no_such.py` and [x](docs/none.md), but not the research\'s '
            '`instance_segmentation/configs/a.py` or `configs/<family>/README.md`\n\n'
            '    make train CONFIG=tools/gone.py\n')
    found = [p for code in code_texts(text) for p in REPO_PATH.findall(code)]
    assert found == ['configs/iif/no_such.py', 'tools/gone.py']
    assert LINK.findall(text) == ['docs/none.md']
    assert slug('Data: LVIS v1 + COCO 2017') == 'data-lvis-v1--coco-2017'
