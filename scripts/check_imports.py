#!/usr/bin/env python3
"""Check that importing the ``iif`` package stays cheap: no module outside the mmdet side of the
kit imports torch, mmcv or mmdet (or a module of that side) at module level.

The mmdet side: ``iif/mmdet_plugins.py`` (what configs import), ``iif/models/``, ``iif/engine/``
and ``iif/datasets.py`` (the registered LVIS dataset classes). Everything else (the CLI, weights,
evaluation, data download, the reproduce queue) imports them inside the function that needs
them, so ``iif --help``, ``iif weights``, ``iif eval`` and ``iif reproduce status`` start
without torch. Imports inside functions and ``if TYPE_CHECKING:`` blocks are fine; class
bodies and module-level ``if``/``try`` blocks run at import and count.

Usage: scripts/check_imports.py [PACKAGE_DIR]   (default: iif/ of this checkout); exit 1 and
one line per violation when there is any. Standard library only.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Iterator, List, Optional

HEAVY = ('torch', 'torchvision', 'mmcv', 'mmdet')
# modules (dotted, relative to the package) that may import HEAVY at module level
MMDET_SIDE = ('mmdet_plugins', 'models', 'engine', 'datasets')


def _on_mmdet_side(dotted: str, package: str) -> bool:
    parts = dotted.split('.')
    return len(parts) > 1 and parts[0] == package and parts[1] in MMDET_SIDE


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == 'TYPE_CHECKING') or (
        isinstance(test, ast.Attribute) and test.attr == 'TYPE_CHECKING')


def _module_level_imports(body: List[ast.stmt]) -> Iterator[ast.stmt]:
    """Import statements that run when the module is imported (not inside a function)."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _module_level_imports(node.orelse)
        else:
            for field in ('body', 'orelse', 'finalbody', 'handlers'):
                inner = getattr(node, field, None)
                if isinstance(inner, list):
                    yield from _module_level_imports(
                        [n for n in inner if isinstance(n, ast.AST)])


def _imported_names(node: ast.stmt, module: str, is_package: bool) -> List[str]:
    """The dotted modules an import statement may load (``from a import b``: a and a.b)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    assert isinstance(node, ast.ImportFrom)
    base = node.module or ''
    if node.level:
        anchor = module.split('.') if is_package else module.split('.')[:-1]
        anchor = anchor[:len(anchor) - (node.level - 1)] if node.level > 1 else anchor
        base = '.'.join(anchor + ([base] if base else []))
    return [base] + [f'{base}.{alias.name}' for alias in node.names]


def violations(source: str, module: str, is_package: bool = False,
               filename: Optional[str] = None) -> List[str]:
    """Module-level imports of HEAVY or of the mmdet side in ``source`` (the code of the dotted
    module ``module``), one message each; empty when the module is on the mmdet side."""
    package = module.split('.')[0]
    if _on_mmdet_side(module, package):
        return []
    filename = filename or module.replace('.', '/') + '.py'
    found = []
    for node in _module_level_imports(ast.parse(source, filename=filename).body):
        for name in _imported_names(node, module, is_package):
            top = name.split('.')[0]
            if top in HEAVY or _on_mmdet_side(name, package):
                found.append(f'{filename}:{node.lineno}: imports {name} at module level; only '
                             f'{", ".join(package + "." + m for m in MMDET_SIDE)} may. Import '
                             'it inside the function that needs it.')
                break
    return found


def check_package(package_dir: Path) -> List[str]:
    package_dir = Path(package_dir)
    root = package_dir.parent
    found = []
    for path in sorted(package_dir.rglob('*.py')):
        rel = path.relative_to(root).with_suffix('')
        is_package = rel.name == '__init__'
        module = '.'.join(rel.parts[:-1] if is_package else rel.parts)
        found += violations(path.read_text(encoding='utf-8'), module, is_package,
                            filename=str(path.relative_to(root)))
    return found


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    package_dir = Path(argv[0]) if argv else Path(__file__).resolve().parents[1] / 'iif'
    if not (package_dir / '__init__.py').is_file():
        print(f'check_imports: {package_dir} is not a package directory', file=sys.stderr)
        return 2
    found = check_package(package_dir)
    for line in found:
        print(line)
    if found:
        print(f'check_imports: {len(found)} module-level import(s) of torch/mmcv/mmdet outside '
              'the mmdet side of the package', file=sys.stderr)
        return 1
    print(f'check_imports: {package_dir.name}/ ok (torch, mmcv, mmdet only on the mmdet side)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
