# Baseline for configs/iif/iif_htc_r101_fpn_4x4_1x_lvis_v1.py: softmax cross-entropy in each
# stage, fc_cls init 0.001 with bias -6.5.
# Research: kostas1515/iif@747b041
#   instance_segmentation/configs/activations/htc_r101_4x4_1x_softmax.py
_base_ = '../iif/iif_htc_r101_fpn_4x4_1x_lvis_v1.py'
# the heads' list comes with the IIF config's _base_ (models/cascade_bbox_heads_lvis.py)
model = dict(roi_head=dict(bbox_head={{_base_.cascade_bbox_heads_softmax}}))
