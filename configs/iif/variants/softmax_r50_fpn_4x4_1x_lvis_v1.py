# The softmax baseline under the variants' 1x schedule: the reference row of the table.
_base_ = '../../baselines/mask_rcnn_r50_fpn_softmax_4x4_1x_lvis_v1.py'
