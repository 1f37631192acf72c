# IIF (raw) R50-FPN with repeat-factor sampling (threshold 1e-3), 1x, LVIS v1.
_base_ = './iif_r50_fpn_4x4_1x_lvis_v1.py'
data = dict(train=dict(oversample_thr=1e-3))
