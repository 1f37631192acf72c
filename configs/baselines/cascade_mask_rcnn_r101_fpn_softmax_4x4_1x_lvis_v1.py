# Baseline for configs/iif/iif_cascade_mask_rcnn_r101_fpn_4x4_1x_lvis_v1.py: softmax
# cross-entropy in each stage, fc_cls init 0.001 with bias -6.5 (as the research baselines).
# Research: kostas1515/iif@747b041
#   instance_segmentation/configs/activations/cascade_r50_4x4_1x_softmax.py
# (an R101 as well: see the IIF config's header).
_base_ = '../iif/iif_cascade_mask_rcnn_r101_fpn_4x4_1x_lvis_v1.py'
# the heads' list comes with the IIF config's _base_ (models/cascade_bbox_heads_lvis.py)
model = dict(roi_head=dict(bbox_head={{_base_.cascade_bbox_heads_softmax}}))
