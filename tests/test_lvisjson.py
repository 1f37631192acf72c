"""The streaming annotation reader (iif/lvisjson.py) and its users (iif weights --ann,
iif data verify --level full) give exactly what json.load gives, with chunk boundaries
anywhere, and hold far less memory."""
import json
import tracemalloc

import pytest

from iif import weights
from iif.lvisjson import AnnotationFileError, stream_annotations

# every JSON value kind, escapes, non-ASCII text, numbers and literals that a chunk boundary
# can cut anywhere
TRICKY = dict(info={'description': 'caf\u00e9 \u2603 "quoted" \\ \n tab\t', 'year': 2026},
              annotations=[dict(id=1, image_id=3, category_id=2, area=1234.5e-3, iscrowd=0,
                                segmentation=[[1.5, 2.25, -3.0, 0.1, 1e20, 12345678901234]],
                                bbox=[0, 0, 10, 10], flag=True, none=None, neg=False,
                                text='\U0001f600 \u00fc'),
                           dict(id=2, image_id=3, category_id=1, bbox=[]), [], 7, 'x', None],
              images=[dict(id=3, width=4, coco_url='http://x/train2017/3.jpg')],
              categories=[], empty={}, last=123456789)


def stream(path, **kwargs):
    anns = []
    streamed = stream_annotations(path, anns.append, **kwargs)
    return anns, streamed


@pytest.mark.parametrize('indent', [None, 1])
def test_every_chunk_boundary_gives_json_load(tmp_path, indent):
    path = tmp_path / 'a.json'
    path.write_text(json.dumps(TRICKY, indent=indent, ensure_ascii=indent is None),
                    encoding='utf-8')
    expected = json.loads(path.read_text(encoding='utf-8'))
    for chunk in (1, 2, 3, 5, 7, 16, 64, 1 << 20):
        anns, streamed = stream(path, chunk_chars=chunk)
        assert anns == expected['annotations'], chunk
        assert streamed.num_annotations == len(expected['annotations'])
        assert streamed.top == {k: v for k, v in expected.items() if k != 'annotations'}, chunk


def test_no_annotations_and_non_list_annotations(tmp_path):
    path = tmp_path / 'a.json'
    path.write_text('{"images": [], "annotations": {"a": 1}}')
    anns, streamed = stream(path, chunk_chars=3)
    assert anns == [] and streamed.num_annotations is None
    assert streamed.top == {'images': [], 'annotations': {'a': 1}}
    path.write_text(' {} ')
    assert stream(path)[1].top == {} and stream(path)[1].num_annotations is None
    path.write_text('{"annotations": []}')
    assert stream(path)[1].num_annotations == 0


def test_invalid_and_truncated_files_are_errors_at_every_cut(tmp_path):
    text = json.dumps(TRICKY)
    path = tmp_path / 'cut.json'
    # a file cut anywhere is an error (never a shorter valid result), whatever the chunk size
    for cut in range(0, len(text) - 1, 7):
        path.write_text(text[:cut])
        for chunk in (4, 1 << 20):
            with pytest.raises(AnnotationFileError, match='cut.json: invalid JSON'):
                stream(path, chunk_chars=chunk)
    path.write_bytes(b'{"images": [{"name": "\xff"}]}')
    with pytest.raises(AnnotationFileError, match='not UTF-8 text'):
        stream(path)
    for bad, why in (('{"images": [], "annotations": [{"id": 1,}]}', 'property name'),
                     ('{"images": [] "annotations": []}', "expected ',' or '}'"),
                     ('{"annotations": [1 2]}', "expected ',' or ']'"),
                     ('{"a": 1} {"b": 2}', 'extra data'),
                     ('[1, 2]', 'not a JSON annotation file'),
                     ('{"annotations": [1, 2', 'ends early')):
        path.write_text(bad)
        with pytest.raises(AnnotationFileError, match=why) as info:
            stream(path, chunk_chars=5)
        assert isinstance(info.value, ValueError)  # callers that caught json errors still do


@pytest.fixture(scope='module')
def scale_slice(tmp_path_factory):
    """0.2% of the full-size synthetic LVIS v1 (what `iif smoke-data --scale lvis_v1` writes)."""
    from iif.scale_data import generate_lvis_scale
    root = tmp_path_factory.mktemp('slice')
    return generate_lvis_scale(root, fraction=0.002, log=lambda *a: None)['train']


def annotation_files(smoke_workdir, scale_slice):
    smoke = smoke_workdir / 'data' / 'smoke' / 'annotations'
    return [smoke / 'lvis_v1_train.json', smoke / 'lvis_v1_val.json', scale_slice]


def test_stream_equals_json_load_on_smoke_data_and_a_scale_slice(smoke_workdir, scale_slice):
    for path in annotation_files(smoke_workdir, scale_slice):
        expected = json.loads(path.read_text())
        anns, streamed = stream(path, chunk_chars=4096)  # many chunk boundaries
        assert len(anns) > 50 and anns == expected.pop('annotations'), path
        assert streamed.top == expected, path


def test_weights_from_a_file_equal_weights_from_json_load(smoke_workdir, scale_slice):
    for path in annotation_files(smoke_workdir, scale_slice):
        streamed = weights.counts_from_annotations(path)
        loaded = weights.counts_from_annotations(json.loads(path.read_text()))
        assert {**vars(streamed), 'source': None} == {**vars(loaded), 'source': None}, path
    # the generated slice's categories carry the counts it was built with
    cats = sorted(json.loads(scale_slice.read_text())['categories'], key=lambda c: c['id'])
    assert streamed.image_count == [c['image_count'] for c in cats]
    assert streamed.instance_count == [c['instance_count'] for c in cats]


def test_weights_stream_holds_ids_not_the_parsed_file(scale_slice, monkeypatch):
    # chunks as small relative to this 2 MB file as the default is to LVIS v1 train's 1.1 GB
    monkeypatch.setattr('iif.lvisjson.CHUNK_CHARS', 1 << 15)
    tracemalloc.start()
    try:
        json.loads(scale_slice.read_text())
        parsed_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        weights.counts_from_annotations(scale_slice)
        streamed_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # json.load holds every polygon as Python floats; the tally keeps category/image ids
    assert streamed_peak < parsed_peak / 4, (streamed_peak, parsed_peak)


def test_weights_errors_name_the_bad_annotation(tmp_path):
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps({'annotations': [{'id': 1, 'image_id': 1, 'category_id': 1},
                                                {'id': 5, 'image_id': 1, 'category_id': 9},
                                                {'id': 6, 'image_id': 1, 'category_id': 8}],
                                'images': [{'id': 1}], 'categories': [{'id': 1}]}))
    with pytest.raises(weights.WeightsError, match='annotation 5 has category_id 9'):
        weights.counts_from_annotations(path)
    path.write_text('{"images": [], "categories": [], "annotations": [3]}')
    with pytest.raises(weights.WeightsError, match='annotation #1 is not an object'):
        weights.counts_from_annotations(path)
    path.write_text('{"images": [], "categories": []}')
    with pytest.raises(weights.WeightsError, match='no "annotations" list'):
        weights.counts_from_annotations(path)


def test_full_verify_streams_and_checks_references(tmp_path):
    from iif.lvisdata import verify_root
    root = tmp_path / 'lvis'
    for folder in ('train2017', 'val2017'):
        (root / folder).mkdir(parents=True)
        (root / folder / '1.jpg').write_bytes(b'x')
    (root / 'annotations').mkdir()
    images = [{'id': 1, 'coco_url': 'http://images.cocodataset.org/train2017/1.jpg'}]
    anns = [{'id': 10, 'image_id': 1, 'category_id': 1},
            {'id': 11, 'image_id': 2, 'category_id': 1},      # unknown image
            {'id': 'a12', 'image_id': 1, 'category_id': 3},   # unknown category, odd id
            {'id': 13, 'image_id': [1], 'category_id': 1},    # unhashable image id
            {'id': 2 ** 70, 'image_id': 1, 'category_id': 1},  # beyond int64: still fine
            'not-an-object']
    for split in ('train', 'val'):
        (root / 'annotations' / f'lvis_v1_{split}.json').write_text(json.dumps(
            {'images': images, 'annotations': anns, 'categories': [{'id': 1}]}))
    problems = verify_root(root, level='full', splits=('train',), expect_counts=False)
    assert len(problems) == 2, problems
    assert ('3 annotations point at an image id that is not in "images" (annotation ids: '
            '11, 13, not-an-object)') in problems[0]
    assert '1 annotations point at a category id that is not in "categories" (annotation ' \
           'ids: a12)' in problems[1]
    (root / 'annotations' / 'lvis_v1_train.json').write_text(json.dumps(
        {'images': images, 'annotations': anns[:1], 'categories': [{'id': 1}]}))
    assert verify_root(root, level='full', splits=('train',), expect_counts=False) == []
    (root / 'annotations' / 'lvis_v1_train.json').write_text('{"images": [], "categories": []}')
    (problem,) = verify_root(root, level='full', splits=('train',), expect_counts=False)
    assert 'no "annotations" list' in problem
