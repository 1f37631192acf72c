"""iif data download / verify and iif weights --compare, against a local HTTP server.

Everything is served from 127.0.0.1 by a small Range-aware handler; a guard makes any other
connection fail the test. The archives are built here with the layout of the real ones.
"""
from __future__ import annotations

import collections
import hashlib
import io
import json
import os
import random
import re
import shutil
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from iif import weights
from iif.cli import main
from iif.lvisdata import catalog, verify_root
from iif.lvisdata.progress import Progress

# ----------------------------------------------------------------------------- network guard


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Fail any connection that is not to loopback, and keep proxies out of the way."""
    real_connect = socket.socket.connect

    def connect(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ('127.0.0.1', '::1', 'localhost'):
            raise AssertionError(f'test tried to reach {address}')
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, 'connect', connect)
    for var in ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'all_proxy',
                'ALL_PROXY', 'LVIS_ROOT', 'IIF_DATA_MIRROR'):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('no_proxy', '*')


# ----------------------------------------------------------------------------- HTTP server

class FileServer:
    """Serves ``files`` (name -> bytes) with optional Range support and one-shot cut-offs."""

    def __init__(self, files):
        self.files = dict(files)
        self.ignore_range = False
        self.cut = {}        # name -> bytes to send before dropping the next response
        self.requests = []   # dicts: name, range, status, sent
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                name = self.path.rsplit('/', 1)[-1]
                rng = self.headers.get('Range')
                record = dict(name=name, path=self.path, range=rng, status=None, sent=0)
                server.requests.append(record)
                data = server.files.get(name)
                if data is None:
                    record['status'] = 404
                    self.send_error(404)
                    return
                start, status = 0, 200
                m = re.fullmatch(r'bytes=(\d+)-', rng or '')
                if m and not server.ignore_range:
                    start, status = int(m.group(1)), 206
                    if start >= len(data):
                        record['status'] = 416
                        self.send_response(416)
                        self.send_header('Content-Range', f'bytes */{len(data)}')
                        self.send_header('Content-Length', '0')
                        self.end_headers()
                        return
                body = data[start:]
                record['status'] = status
                self.send_response(status)
                if status == 206:
                    self.send_header('Content-Range', f'bytes {start}-{len(data) - 1}/{len(data)}')
                self.send_header('Content-Length', str(len(body)))
                self.send_header('Content-Type', 'application/zip')
                self.end_headers()
                cut = server.cut.pop(name, None)
                if cut is not None:  # simulate a dropped connection mid-transfer
                    body = body[:cut]
                self.wfile.write(body)
                self.wfile.flush()
                record['sent'] = len(body)
                if cut is not None:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    @property
    def base(self):
        return f'http://127.0.0.1:{self.httpd.server_address[1]}'

    def archive_requests(self, name=None):
        return [r for r in self.requests if name is None or r['name'] == name]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ----------------------------------------------------------------------------- test data

TRAIN_IMAGES = ['000000000009.jpg', '000000000025.jpg', '000000000030.jpg']
VAL_IMAGES = ['000000000139.jpg', '000000000285.jpg']


def fake_jpeg(name, size):
    rnd = random.Random(name)  # incompressible, so the zip is big enough to cut mid-way
    return b'\xff\xd8\xff\xe0' + rnd.getrandbits(8 * size).to_bytes(size, "little") + b'\xff\xd9'


def lvis_json(images):
    """A small LVIS-format file; ``images`` are (folder, file name) pairs."""
    cats = [dict(id=1, name='aerosol_can', frequency='c', synset='aerosol.n.02'),
            dict(id=2, name='air_conditioner', frequency='f', synset='air_conditioner.n.01')]
    imgs, anns = [], []
    for k, (folder, name) in enumerate(images, start=1):
        imgs.append(dict(id=k, file_name=name, height=4, width=4,
                         coco_url=f'http://images.cocodataset.org/{folder}/{name}',
                         neg_category_ids=[], not_exhaustive_category_ids=[]))
        for c in (1, 2)[:1 + k % 2]:
            anns.append(dict(id=len(anns) + 1, image_id=k, category_id=c, bbox=[0, 0, 2, 2],
                             area=4.0, segmentation=[[0, 0, 2, 0, 2, 2]]))
    return json.dumps(dict(info={}, licenses=[], images=imgs, annotations=anns,
                           categories=cats)).encode()


def make_zip(entries, compress=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', compress) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def build_archives():
    train_imgs = {f'train2017/{n}': fake_jpeg(n, 40_000) for n in TRAIN_IMAGES}
    val_imgs = {f'val2017/{n}': fake_jpeg(n, 20_000) for n in VAL_IMAGES}
    val_json = [('val2017', VAL_IMAGES[0]), ('train2017', TRAIN_IMAGES[2]),  # LVIS val uses both
                ('val2017', VAL_IMAGES[1])]
    return {
        'lvis_v1_train.json.zip': make_zip(
            {'lvis_v1_train.json': lvis_json([('train2017', n) for n in TRAIN_IMAGES])}),
        'lvis_v1_val.json.zip': make_zip({'lvis_v1_val.json': lvis_json(val_json)}),
        'train2017.zip': make_zip(dict(train_imgs), zipfile.ZIP_STORED),
        'val2017.zip': make_zip(dict(val_imgs), zipfile.ZIP_STORED),
    }


def write_tsv(path, base, archives, override_sha=None):
    lines = ['url\tsize_bytes\tsha256\tsource\tmd5\tmd5_source\tnotes']
    for name, data in archives.items():
        sha = (override_sha or {}).get(name, hashlib.sha256(data).hexdigest())
        lines.append(f'{base}/{name}\t{len(data)}\t{sha}\ttest\t\t\tbuilt by the test')
    path.write_text('\n'.join(lines) + '\n')
    return path


@pytest.fixture
def served(tmp_path):
    archives = build_archives()
    server = FileServer(archives)
    tsv = write_tsv(tmp_path / 'checksums.tsv', server.base, archives)
    yield server, archives, tsv
    server.close()


def run_cli(*argv):
    return main([str(a) for a in argv])


def download(root, tsv, *extra):
    return run_cli('data', 'download', '--root', root, '--checksums', tsv, *extra)


# ----------------------------------------------------------------------------- download

def test_full_download_extract_and_verify(served, tmp_path, capsys):
    server, archives, tsv = served
    root = tmp_path / 'lvis'
    assert download(root, tsv) == 0
    assert len(server.requests) == 4 and all(r['status'] == 200 for r in server.requests)
    assert all(r['range'] is None for r in server.requests)
    # the layout the configs read, with the archives' bytes
    for split in ('train', 'val'):
        with zipfile.ZipFile(io.BytesIO(archives[f'lvis_v1_{split}.json.zip'])) as zf:
            expected = zf.read(f'lvis_v1_{split}.json')
        assert (root / 'annotations' / f'lvis_v1_{split}.json').read_bytes() == expected
    with zipfile.ZipFile(io.BytesIO(archives['train2017.zip'])) as zf:
        assert (root / 'train2017' / TRAIN_IMAGES[1]).read_bytes() == zf.read(
            f'train2017/{TRAIN_IMAGES[1]}')
    assert sorted(p.name for p in (root / 'val2017').iterdir()) == VAL_IMAGES
    # archives kept by default, each extraction recorded with the archive's sha256
    for name, data in archives.items():
        assert (root / 'archives' / name).read_bytes() == data
        marker = json.loads((root / '.iif_extracted' / f'{name}.json').read_text())
        assert marker['sha256'] == hashlib.sha256(data).hexdigest()
    assert not list(root.glob('**/*.part')) and not list(root.glob('**/.*.extracting'))
    capsys.readouterr()

    for level in ('fast', 'full'):
        assert run_cli('data', 'verify', '--root', root, '--level', level,
                       '--no-expect-counts') == 0
        assert f'OK: {root}' in capsys.readouterr().out
    assert verify_root(root, level='full', expect_counts=False) == []
    # with the LVIS v1 counts (from lvis_split_stats.tsv) this small tree must fail
    assert run_cli('data', 'verify', '--root', root, '--level', 'full') == 1
    out = capsys.readouterr().out
    assert '3 images, expected 100170 for LVIS v1 train' in out
    assert '3 images, expected 19809 for LVIS v1 val' in out


def test_second_run_fetches_nothing_and_delete_archives(served, tmp_path, capsys):
    server, archives, tsv = served
    root = tmp_path / 'lvis'
    assert download(root, tsv) == 0
    server.requests.clear()
    mtime = (root / 'train2017' / TRAIN_IMAGES[0]).stat().st_mtime_ns
    assert download(root, tsv) == 0
    assert server.requests == []
    assert 'already extracted' in capsys.readouterr().err
    assert (root / 'train2017' / TRAIN_IMAGES[0]).stat().st_mtime_ns == mtime  # not re-extracted

    assert download(root, tsv, '--delete-archives') == 0
    assert server.requests == []
    assert not any((root / 'archives' / n).exists() for n in archives)
    assert download(root, tsv) == 0  # markers alone are enough: still nothing fetched
    assert server.requests == []
    assert verify_root(root, level='full', expect_counts=False) == []


def test_interrupted_download_resumes_with_range(served, tmp_path):
    server, archives, tsv = served
    size = len(archives['train2017.zip'])
    cut = 50_000
    assert size > 2 * cut
    server.cut['train2017.zip'] = cut
    root = tmp_path / 'lvis'
    assert download(root, tsv, '--only', 'train2017') == 0
    reqs = server.archive_requests('train2017.zip')
    assert [r['range'] for r in reqs] == [None, f'bytes={cut}-']
    assert [r['status'] for r in reqs] == [200, 206]
    assert [r['sent'] for r in reqs] == [cut, size - cut]  # only the remainder the second time
    assert (root / 'archives' / 'train2017.zip').read_bytes() == archives['train2017.zip']
    assert sorted(p.name for p in (root / 'train2017').iterdir()) == TRAIN_IMAGES
    assert not (root / 'val2017').exists() and not (root / 'annotations').exists()


def test_resume_across_runs_and_server_ignoring_range(served, tmp_path, capsys):
    server, archives, tsv = served
    data = archives['val2017.zip']
    root = tmp_path / 'lvis'
    (root / 'archives').mkdir(parents=True)
    (root / 'archives' / 'val2017.zip.part').write_bytes(data[:1000])  # left by a killed run
    server.ignore_range = True
    assert download(root, tsv, '--only', 'val2017.zip') == 0
    (req,) = server.archive_requests()
    assert req['range'] == 'bytes=1000-' and req['status'] == 200 and req['sent'] == len(data)
    assert 'ignored the Range request' in capsys.readouterr().err
    assert (root / 'archives' / 'val2017.zip').read_bytes() == data

    # a server that honours Range gets asked only for the rest
    server.ignore_range = False
    server.requests.clear()
    root2 = tmp_path / 'lvis2'
    (root2 / 'archives').mkdir(parents=True)
    (root2 / 'archives' / 'val2017.zip.part').write_bytes(data[:1000])
    assert download(root2, tsv, '--only', 'val2017.zip') == 0
    (req,) = server.archive_requests()
    assert (req['range'], req['status'], req['sent']) == ('bytes=1000-', 206, len(data) - 1000)


def test_checksum_mismatch_moves_file_aside(served, tmp_path, capsys):
    server, archives, _ = served
    tsv = write_tsv(tmp_path / 'bad.tsv', server.base, archives,
                    override_sha={'lvis_v1_val.json.zip': 'ab' * 32})
    root = tmp_path / 'lvis'
    assert download(root, tsv) == 1
    err = capsys.readouterr().err
    assert 'lvis_v1_val.json.zip: checksum mismatch' in err and 'ab' * 32 in err
    assert hashlib.sha256(archives['lvis_v1_val.json.zip']).hexdigest() in err
    (bad,) = (root / 'archives').glob('lvis_v1_val.json.zip.bad-*')
    assert bad.read_bytes() == archives['lvis_v1_val.json.zip']
    assert str(bad) in err
    assert not (root / 'archives' / 'lvis_v1_val.json.zip').exists()
    assert not (root / 'annotations' / 'lvis_v1_val.json').exists()  # not used
    assert (root / 'annotations' / 'lvis_v1_train.json').is_file()   # the others went on
    # a rerun fetches it again and fails the same way, keeping both copies
    assert download(root, tsv, '--only', 'lvis') == 1
    assert len(list((root / 'archives').glob('lvis_v1_val.json.zip.bad-*'))) == 2


def test_disk_check_fails_clearly_before_fetching(served, tmp_path, monkeypatch, capsys):
    server, archives, tsv = served
    usage = collections.namedtuple('usage', 'total used free')
    monkeypatch.setattr(shutil, 'disk_usage', lambda path: usage(10 << 30, 10 << 30, 3 << 20))
    root = tmp_path / 'lvis'
    assert download(root, tsv) == 2
    err = capsys.readouterr().err
    assert 'not enough free disk space' in err
    assert 'need ' in err and 'only 3.0 MiB is available' in err
    assert '--delete-archives' in err and '--only' in err
    assert server.requests == []
    assert not (root / 'archives').exists()

    # the estimate counts what is still to fetch: enough room for the two LVIS archives passes
    monkeypatch.setattr(shutil, 'disk_usage', lambda path: usage(10 << 30, 0, 600 << 20))
    assert download(root, tsv, '--only', 'lvis') == 0


def test_existing_tree_is_not_overwritten(served, tmp_path, capsys):
    server, _, tsv = served
    root = tmp_path / 'lvis'
    (root / 'val2017').mkdir(parents=True)
    (root / 'val2017' / 'mine.jpg').write_bytes(b'x')
    assert download(root, tsv) == 2
    err = capsys.readouterr().err
    assert f'{root / "val2017"} exists and was not extracted by' in err
    assert '--only lvis_v1_train.json.zip lvis_v1_val.json.zip train2017.zip' in err
    assert server.requests == []
    assert os.listdir(root / 'val2017') == ['mine.jpg']


def test_mirror_and_missing_file(served, tmp_path, monkeypatch, capsys):
    server, archives, _ = served
    # the table points at a closed loopback port: only the mirror can serve
    tsv = write_tsv(tmp_path / 'dead.tsv', 'http://127.0.0.1:9/nowhere', archives)
    root = tmp_path / 'lvis'
    assert download(root, tsv, '--only', 'lvis', '--mirror', server.base + '/lvis-mirror/') == 0
    assert [r['path'] for r in server.requests] == [
        '/lvis-mirror/lvis_v1_train.json.zip', '/lvis-mirror/lvis_v1_val.json.zip']
    monkeypatch.setenv('IIF_DATA_MIRROR', server.base + '/env-mirror')
    assert download(root, tsv, '--only', 'val2017') == 0
    assert server.requests[-1]['path'] == '/env-mirror/val2017.zip'

    del server.files['train2017.zip']  # a mirror without the file: a clear error, no retries
    assert download(root, tsv, '--only', 'train2017') == 1
    err = capsys.readouterr().err
    assert 'HTTP 404' in err and '/env-mirror/train2017.zip' in err and 'IIF_DATA_MIRROR' in err


def test_bad_options_and_unsafe_zip(served, tmp_path, capsys):
    server, archives, tsv = served
    assert download(tmp_path / 'r', tsv, '--only', 'coco2014') == 2
    assert "--only 'coco2014'" in capsys.readouterr().err
    no_sha = write_tsv(tmp_path / 'nosha.tsv', server.base, archives,
                       override_sha={'val2017.zip': ''})
    assert download(tmp_path / 'r', no_sha, '--only', 'coco') == 2
    assert 'no sha256' in capsys.readouterr().err
    # an archive with a path that climbs out of its folder is refused
    evil = make_zip({'val2017/a.jpg': b'x', 'val2017/../../evil.txt': b'x'})
    server.files['val2017.zip'] = evil
    archives = dict(archives, **{'val2017.zip': evil})
    tsv = write_tsv(tmp_path / 'evil.tsv', server.base, archives)
    root = tmp_path / 'lvis'
    assert download(root, tsv, '--only', 'val2017') == 1
    assert 'entries outside its folder' in capsys.readouterr().err
    assert not (tmp_path / 'evil.txt').exists() and not (root / 'val2017').exists()


# ----------------------------------------------------------------------------- verify

@pytest.fixture
def tree(served, tmp_path):
    _, _, tsv = served
    root = tmp_path / 'lvis'
    assert download(root, tsv, '--delete-archives') == 0
    return root


def test_verify_reports_missing_image(tree, capsys):
    os.remove(tree / 'train2017' / TRAIN_IMAGES[2])  # named by both train and val json
    (tree / 'val2017' / VAL_IMAGES[1]).write_bytes(b'')
    capsys.readouterr()
    assert run_cli('data', 'verify', '--root', tree, '--no-expect-counts') == 1
    out = capsys.readouterr().out
    assert (f'lvis_v1_train.json: 1 of 3 images are missing under {tree}: '
            f'train2017/{TRAIN_IMAGES[2]}') in out
    assert (f'lvis_v1_val.json: 1 of 3 images are missing under {tree}: '
            f'train2017/{TRAIN_IMAGES[2]}') in out
    assert (f'lvis_v1_val.json: 1 of 3 images are empty (0-byte) files: '
            f'val2017/{VAL_IMAGES[1]}') in out
    # the fast check does not look at single images: it passes, quickly
    assert verify_root(tree, level='fast', expect_counts=False) == []
    # many missing: the first N are listed with the total
    for name in TRAIN_IMAGES[:2]:
        os.remove(tree / 'train2017' / name)
    problems = verify_root(tree, level='full', expect_counts=False, max_listed=2)
    assert any('3 of 3 images are missing' in p and '(first 2 of 3)' in p for p in problems)


def test_verify_reports_truncated_json(tree, capsys):
    ann = tree / 'annotations' / 'lvis_v1_train.json'
    data = ann.read_bytes()
    ann.write_bytes(data[:len(data) // 2])
    capsys.readouterr()
    assert run_cli('data', 'verify', '--root', tree, '--level', 'fast', '--no-expect-counts') == 1
    out = capsys.readouterr().out
    assert f'{ann}: truncated or invalid JSON: does not end with "}}"' in out
    assert '1 problem:' in out  # nothing said about the intact val file
    assert run_cli('data', 'verify', '--root', tree, '--level', 'full', '--no-expect-counts') == 1
    out = capsys.readouterr().out
    assert f'{ann}: invalid or truncated JSON ({len(data) // 2} bytes)' in out
    assert '1 problem' in out  # the val file and the images are fine


def test_verify_missing_pieces_and_api(tree, tmp_path):
    assert verify_root(tree, level='fast', expect_counts=False) == []
    # the real LVIS sizes make this tiny tree implausible even for the fast check
    assert any('too small for the 1270141 annotations' in p for p in verify_root(tree))
    shutil.rmtree(tree / 'val2017')
    (tree / 'annotations' / 'lvis_v1_val.json').unlink()
    problems = verify_root(tree, level='fast', expect_counts=False)
    assert len(problems) == 2
    val_json = tree / 'annotations' / 'lvis_v1_val.json'
    assert any(p.startswith(f'{val_json}: missing') for p in problems)
    assert any(p.startswith(f'{tree / "val2017"}: missing') and '--only val2017.zip' in p
               for p in problems)
    assert verify_root(tree, level='fast', splits=('train',), expect_counts=False) == []
    (problem,) = verify_root(tmp_path / 'nothing-here')
    assert 'does not exist' in problem
    from iif.lvisdata import DataRootError, require_root
    with pytest.raises(DataRootError, match='2 problems'):
        require_root(tree, expect_counts=False)


def test_image_relpath():
    url = 'http://images.cocodataset.org/train2017/000000391895.jpg'
    assert catalog.image_relpath({'coco_url': url}, 'val') == 'train2017/000000391895.jpg'
    assert catalog.image_relpath({'file_name': 'a.jpg'}, 'val') == 'val2017/a.jpg'
    assert catalog.image_relpath({}, 'val') is None


def test_progress_lines():
    now = [0.0]
    out = io.StringIO()
    bar = Progress(out, tty=False, interval=5.0, clock=lambda: now[0])
    bar.start('x.zip', 100 << 20)
    for _ in range(10):
        now[0] += 1.0
        bar.update(5 << 20)
    bar.finish()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # one line per 5 s, then the summary
    assert lines[0] == 'x.zip: 25.0 MiB / 100.0 MiB  25.0% 5.0 MiB/s ETA 15s'
    assert lines[-1] == 'x.zip: 50.0 MiB in 10s (5.0 MiB/s)'


# ----------------------------------------------------------------------------- weights --compare

def generated_lvis_v1_train(path):
    """An annotation file with the bundled lvis_v1 counts, except for known differences."""
    ref = weights.load_bundled_counts('lvis_v1')
    n_images = ref.num_images + 1                     # N differs: one image without annotations
    cats, anns, offset = [], [], 0
    for cid, name, freq, n_img, n_inst in zip(ref.ids, ref.names, ref.frequency,
                                              ref.image_count, ref.instance_count):
        if cid == 1203:
            continue                                  # missing category
        if cid == 1:
            n_inst -= 1                               # one instance fewer
        if cid == 2:
            n_img += 1                                # one more image (and instance)
            n_inst += 1
        if cid == 3:
            name = name + '_renamed'
        if cid == 4:
            freq = 'r' if freq != 'r' else 'f'
        cats.append(dict(id=cid, name=name, frequency=freq))
        image_ids = [(offset + k) % ref.num_images + 1 for k in range(n_img)]
        offset += n_img
        for k in range(n_inst):  # one instance per image, the rest on the first image
            anns.append((image_ids[k] if k < n_img else image_ids[0], cid))
    data = dict(images=[dict(id=i) for i in range(1, n_images + 1)],
                annotations=[dict(id=k, image_id=i, category_id=c)
                             for k, (i, c) in enumerate(anns, start=1)],
                categories=cats)
    try:
        import orjson
        path.write_bytes(orjson.dumps(data))
    except ImportError:
        path.write_text(json.dumps(data))
    return path


def test_weights_compare(tmp_path, capsys):
    ann = generated_lvis_v1_train(tmp_path / 'lvis_v1_train.json')
    out_csv = tmp_path / 'w.csv'
    assert run_cli('weights', '--ann', ann, '--out', out_csv, '--compare', 'lvis_v1') == 1
    out = capsys.readouterr().out
    assert out_csv.is_file() and len(out_csv.read_text().splitlines()) == 1 + 1202
    lines = [line.strip() for line in out.splitlines() if line.strip().startswith('category ')]
    assert [line.split(' (')[0] for line in lines] == [f'category {i}' for i in (1, 2, 3, 4, 1203)]
    assert 'instance_count 108 != 109' in lines[0] and 'image_count' not in lines[0]
    assert 'image_count' in lines[1] and 'instance_count' in lines[1]
    assert "name '" in lines[2] and "_renamed' != '" in lines[2]
    assert 'frequency' in lines[3] and lines[4].endswith('in bundled:lvis_v1 only')
    assert 'N (images): 100171 != 100170' in out
    ref = weights.load_bundled_counts('lvis_v1')
    m_file = ref.num_instances - 1 + 1 - ref.instance_count[ref.ids.index(1203)]
    assert f'M (instances): {m_file} != 1270141' in out
    assert 'differs from lvis_v1: 5 of 1203 categories, and N (images) and M (instances)' in out

    # the bundled table against itself: equal, exit 0
    assert run_cli('weights', '--dataset', 'lvis_v1', '--out', out_csv, '--compare', 'lvis_v1') == 0
    assert 'matches lvis_v1: all 1203 categories' in capsys.readouterr().out


def test_unreachable_host_keeps_partial_download(served, tmp_path):
    from iif.lvisdata import Downloader
    server, archives, tsv = served
    root = tmp_path / 'lvis'
    (root / 'archives').mkdir(parents=True)
    part = root / 'archives' / 'val2017.zip.part'
    part.write_bytes(archives['val2017.zip'][:500])
    dead = write_tsv(tmp_path / 'dead.tsv', 'http://127.0.0.1:9', archives)  # nothing listens
    quiet = Progress(io.StringIO(), tty=False)
    result = Downloader(root, only=['val2017'], checksums=dead, retries=2, retry_wait=0,
                        progress=quiet).run()
    (problem,) = result.problems
    assert 'could not download http://127.0.0.1:9/val2017.zip: cannot reach' in problem
    assert 'after 3 attempts' in problem and f'{part}' in problem and 'rerun to resume' in problem
    assert part.read_bytes() == archives['val2017.zip'][:500]  # kept for the next run
    assert download(root, tsv, '--only', 'val2017') == 0       # which resumes it
    (req,) = server.archive_requests()
    assert req['range'] == 'bytes=500-'
