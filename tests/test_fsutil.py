"""iif.fsutil: the kit's one way to write a file (a reader or a crash never sees half of it)."""
from __future__ import annotations

import hashlib
import json

import pytest

from iif.fsutil import atomic_path, sha256_file, write_json_atomic, write_text_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / 'state.json'
    write_json_atomic(target, {'runs': 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text('{"runs": ')  # half written, then the writer fails
            raise RuntimeError('killed mid-write')
    assert json.loads(target.read_text()) == {'runs': 1}
    assert [p.name for p in tmp_path.iterdir()] == ['state.json']


def test_a_write_replaces_the_file_and_creates_its_folder(tmp_path):
    target = tmp_path / 'new' / 'dir' / 'plot.png'
    with atomic_path(target, suffix='.png') as tmp:
        assert tmp.parent == target.parent and tmp.name.endswith('.png')  # same filesystem
        tmp.write_bytes(b'one')
    write_text_atomic(target, 'two')
    assert target.read_text() == 'two'
    assert sorted(p.name for p in target.parent.iterdir()) == ['plot.png']
    assert sha256_file(target, block=1) == hashlib.sha256(b'two').hexdigest()
