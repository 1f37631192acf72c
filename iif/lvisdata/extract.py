"""Extracting a checked archive into the data root: into a hidden folder next to the target
first, then the wanted entries are renamed into place, so an interrupted extraction never
leaves a half tree where the configs look; a marker records the archive's sha256."""
from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path
from typing import Callable

from .catalog import DataError
from .plan import Planned
from .progress import Progress
from .state import marker_path, write_marker


def _unsafe_member(name: str) -> bool:
    parts = name.replace('\\', '/').split('/')
    return name.startswith(('/', '\\')) or '..' in parts or ':' in parts[0]


def extract_archive(root: Path, p: Planned, progress: Progress,
                    log: Callable[[str], None]) -> None:
    dest = root / p.spec.dest
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / f'.{p.spec.name}.extracting'
    if tmp.exists():  # left by an interrupted run of ours
        shutil.rmtree(tmp)
    marker_path(root, p.spec).unlink(missing_ok=True)
    try:
        with zipfile.ZipFile(p.archive) as zf:
            infos = zf.infolist()
            unsafe = [i.filename for i in infos if _unsafe_member(i.filename)]
            if unsafe:
                raise DataError(f'{p.archive} has entries outside its folder (e.g. '
                                f'{unsafe[0]!r}); refusing to extract it')
            tops = {i.filename.replace('\\', '/').split('/')[0] for i in infos}
            missing = [e for e in p.spec.provides if e not in tops]
            if missing:
                raise DataError(f'{p.archive} does not contain {", ".join(missing)} (its top '
                                f'level: {", ".join(sorted(tops)[:10])}); it is not the '
                                f'expected archive')
            progress.start(f'extract {p.spec.name}', sum(i.file_size for i in infos))
            for info in infos:
                zf.extract(info, tmp)
                progress.update(info.file_size)
            progress.finish()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f'{p.archive} cannot be extracted ({e}) although its sha256 matched; '
                        f'move it away and rerun') from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for entry in p.spec.provides:
        target = dest / entry
        if target.exists() or target.is_symlink():  # appeared while we were extracting
            raise DataError(f'{target} appeared during extraction; the extracted copy is left '
                            f'in {tmp}: compare, move one away and rerun')
        os.rename(tmp / entry, target)
    extras = sorted(tops - set(p.spec.provides))
    if extras:
        log(f'{p.spec.name}: ignored entries not used by the layout: {", ".join(extras)}')
    shutil.rmtree(tmp)
    write_marker(root, p.spec, p.sha256)
