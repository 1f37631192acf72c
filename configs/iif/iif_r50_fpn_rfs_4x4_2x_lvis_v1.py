# IIF (raw) R50-FPN with repeat-factor sampling (1e-3), 2x (24 epochs, steps 16 and 22),
# LVIS v1.
# Research: kostas1515/iif@747b041
#   instance_segmentation/configs/activations/iif/iif_r50_rfs_4x4_2x.py
_base_ = './iif_r50_fpn_4x4_2x_lvis_v1.py'
data = dict(train=dict(oversample_thr=1e-3))
