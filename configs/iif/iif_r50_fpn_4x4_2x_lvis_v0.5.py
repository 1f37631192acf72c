# IIF (raw) R50-FPN without repeat-factor sampling, 2x, LVIS v0.5 (1230 classes, weights from
# the bundled v0.5 table; data under data/lvis_v0.5/).
# Research: kostas1515/iif@747b041
#   instance_segmentation/configs/activations/iif/iif_r50_4x4_2x_lvis_v05.py
_base_ = './iif_r50_fpn_rfs_4x4_2x_lvis_v0.5.py'
data = dict(train=dict(oversample_thr=0.0))
