#!/usr/bin/env python3
"""Write (or, with --check, verify) the README.md of every config family, configs/<family>/.

Each README is generated from two sources only, so a table can never drift from the checks:
the configs in the folder (file name, the first sentence of the header comment, the research
file named after "Research:") and iif/data/published_results.csv (read with
iif.reproduce.results.load_published, the same reader the published-number checks use).

    python3 scripts/config_readmes.py            # rewrite the READMEs
    python3 scripts/config_readmes.py --check    # exit 1 naming every README that differs

Needs only the standard library and the kit's source tree (no torch, no mmdet).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from iif.reproduce.results import PublishedModel, load_published  # noqa: E402

# the order the tables show metrics in; any other metric in the CSV follows
METRIC_ORDER = ('segm/AP', 'segm/AP50', 'segm/AP75', 'segm/APr', 'segm/APc', 'segm/APf',
                'bbox/AP', 'bbox/AP50', 'bbox/AP75', 'bbox/APr', 'bbox/APc', 'bbox/APf')
METRIC_LABEL = {'segm': 'mask', 'bbox': 'box'}
# what each family holds, in one line (a new family without a line is an error, not a blank)
FAMILY_INTRO = {
    'baselines': 'The non-IIF reference models: softmax (and one sigmoid) cross-entropy '
                 'twins of the IIF configs, trained with the same recipe.',
    'fasa': 'FASA (feature augmentation and sampling adaptation, Zang et al., ICCV 2021) '
            'with and without IIF; details in [docs/fasa.md](../../docs/fasa.md).',
    'iif': 'IIF on Mask R-CNN, Cascade Mask R-CNN and HTC, LVIS v1 and v0.5; `variants/` '
           'holds one 1x config per IIF variant plus the softmax row of the variant table '
           '(`make reproduce-variants`).',
    'smoke': 'Light ResNet-18 models on the built-in small dataset (`iif smoke-data`, '
             '`make demo`): they train on a CPU in minutes and exercise the code paths; '
             'their AP means nothing.',
    'zoo': 'Test-only configs that load the research\'s released checkpoints and compare '
           'the measured numbers with the published ones; see '
           '[MODEL_ZOO.md](../../MODEL_ZOO.md).',
}
GENERATOR = 'scripts/config_readmes.py'
_RESEARCH = re.compile(r'Research:\s*(?:kostas1515/iif@\w+\s+)?(?:instance_segmentation/)?'
                       r'(\S+?\.py)')
# test-only families: `train` refuses their configs
TEST_ONLY = ('zoo',)
_PY_NAME = re.compile(r'[\w.-]+\.py')


def families(configs_dir: Path) -> List[Path]:
    """Every configs/<family>/ folder except the shared _base_."""
    return sorted(p for p in configs_dir.iterdir() if p.is_dir() and not p.name.startswith('_'))


def header_comment(path: Path) -> str:
    """The leading comment block of a config, as one line of text."""
    lines = []
    for line in path.read_text(encoding='utf-8').splitlines():
        if not line.startswith('#'):
            break
        lines.append(line[1:].strip())
    return ' '.join(part for part in lines if part)


def first_sentence(text: str) -> str:
    match = re.search(r'\.(\s|$)', text)
    return text[:match.start() + 1] if match else text


def research_file(header: str) -> Optional[str]:
    """The research config a header names after "Research:", as a path in kostas1515/iif."""
    match = _RESEARCH.search(header)
    return f'instance_segmentation/{match.group(1)}' if match else None


def _cell(text: str) -> str:
    return text.replace('|', '\\|')


def _value(model: PublishedModel, key: str) -> str:
    iou, metric = key.split('/')
    value = model.values[iou][metric]
    text = f'{value:.1f}'
    others = model.other_values(key)
    if others:
        text += ' (' + '; '.join(f'{v:.1f} in {", ".join(commits)}' for v, commits in others) + ')'
    return text


def _keys(model: PublishedModel) -> List[str]:
    present = [f'{iou}/{metric}' for iou, metrics in model.values.items() for metric in metrics]
    return ([k for k in METRIC_ORDER if k in present]
            + sorted(k for k in present if k not in METRIC_ORDER))


def _source_config(model: PublishedModel) -> Optional[str]:
    """The research config file name the sources give for a row, if any."""
    names = _PY_NAME.findall(model.config)
    return names[0] if names else None


def render(family: Path, repo: Path, published: List[PublishedModel]) -> str:
    if family.name not in FAMILY_INTRO:
        raise SystemExit(f'error: {GENERATOR} has no description of configs/{family.name}/; '
                         f'add one to FAMILY_INTRO')
    files = sorted(p for p in family.rglob('*.py'))
    configs = [p for p in files if not p.name.startswith('_')]
    bases = [p for p in files if p.name.startswith('_')]
    headers = {p: header_comment(p) for p in files}
    held = {p: [m for m in published if p.name in m.configs] for p in configs}
    # rows whose (probable or linked) source config a header here names
    related = [m for m in published
               if _source_config(m) and any(_source_config(m) in headers[p] for p in configs)]
    shown = [m for m in published if m in related or any(m in held[p] for p in configs)]

    out = [f'# configs/{family.name}/', '',
           f'<!-- Generated by {GENERATOR} from the config headers and '
           'iif/data/published_results.csv; edit those, then run the script. -->', '',
           FAMILY_INTRO[family.name], '',
           ('Test-only (`train` refuses them); e' if family.name in TEST_ONLY else
            'Train one with `make train CONFIG=configs/' + family.name + '/<file> GPUS=4`; e')
           + 'valuate a checkpoint with `make evaluate CONFIG=configs/' + family.name
           + '/<file> CKPT=<checkpoint>`.', '',
           '| config | what it is | research config (kostas1515/iif) | published number held '
           'against it |', '|---|---|---|---|']
    for p in configs:
        rel = p.relative_to(family).as_posix()
        research = research_file(headers[p])
        against = ', '.join(f'{m.model} (below)' for m in held[p]) or 'none'
        out.append(f'| [{rel}]({rel}) | {_cell(first_sentence(headers[p]) or "(no header)")} | '
                   f'{"`" + research + "`" if research else "-"} | {against} |')
    if bases:
        out += ['', 'Shared base files (not run on their own):', '']
        for p in bases:
            rel = p.relative_to(family).as_posix()
            out.append(f'- [{rel}]({rel}): {first_sentence(headers[p])}')
    out += ['', '## Published numbers', '']
    if not shown:
        out.append('No published number of the research is tied to a config in this folder '
                   '(`iif/data/published_results.csv` holds every published number the kit '
                   'knows, with its source).')
    for m in shown:
        keys = _keys(m)
        compared = [p.relative_to(family).as_posix() for p in configs if m in held[p]]
        naming = [p.relative_to(family).as_posix() for p in configs
                  if _source_config(m) and _source_config(m) in headers[p]]
        out += [f'### {m.model}', '',
                '| ' + ' | '.join(f'{METRIC_LABEL.get(k.split("/")[0], k.split("/")[0])} '
                                  f'{k.split("/")[1]}' for k in keys) + ' |',
                '|' + '---|' * len(keys),
                '| ' + ' | '.join(_value(m, k) for k in keys) + ' |', '',
                'Source: ' + ', '.join(f'<{url}>' for url in m.sources) + '.']
        thresholds = sorted(set(m.mask_thr_binary.values()))
        if thresholds:
            out.append('Mask numbers at mask_thr_binary ' + ', '.join(thresholds) + '.')
        out.append(f'Config behind it, as far as the sources say: {m.config}.')
        if compared:
            out.append('Held against it (`published check` of `make evaluate`, within the '
                       'tolerance): ' + ', '.join(f'`{c}`' for c in compared) + '.')
        else:
            out.append('No config here is held against it; '
                       + ', '.join(f'`{c}`' for c in naming)
                       + (' names' if len(naming) == 1 else ' name')
                       + f' `{_source_config(m)}` in the header, which is not known to be '
                       'the same recipe.')
        for note in m.notes:
            out.append(f'Note: {note}.')
        out.append('')
    while out[-1] == '':
        out.pop()
    return '\n'.join(out) + '\n'


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--check', action='store_true',
                        help='write nothing; exit 1 naming each README that is missing or stale')
    parser.add_argument('--csv', type=Path, default=None,
                        help='published numbers (default: iif/data/published_results.csv)')
    parser.add_argument('--configs', type=Path, default=REPO / 'configs',
                        help='the configs folder (default: the kit\'s)')
    args = parser.parse_args(argv)
    published = load_published(args.csv)
    stale: Dict[Path, str] = {}
    for family in families(args.configs):
        text = render(family, REPO, published)
        readme = family / 'README.md'
        current = readme.read_text(encoding='utf-8') if readme.exists() else None
        if current != text:
            stale[readme] = text
    if args.check:
        for readme in stale:
            print(f'stale: {readme} differs from what {GENERATOR} generates; run '
                  f'`python3 {GENERATOR}` and commit the result', file=sys.stderr)
        if not stale:
            print('config READMEs: up to date')
        return 1 if stale else 0
    for readme, text in stale.items():
        readme.write_text(text, encoding='utf-8')
        print(f'wrote {readme}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
