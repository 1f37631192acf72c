# Baseline for configs/iif/iif_cascade_mask_rcnn_r101_fpn_4x4_1x_lvis_v1.py: softmax
# cross-entropy in each stage, fc_cls init 0.001 with bias -6.5 (as the research baselines).
# Research: kostas1515/iif@747b041
#   instance_segmentation/configs/activations/cascade_r50_4x4_1x_softmax.py
# (an R101 as well: see the IIF config's header).
_base_ = '../iif/iif_cascade_mask_rcnn_r101_fpn_4x4_1x_lvis_v1.py'
model = dict(roi_head=dict(bbox_head=[
    dict(type='Shared2FCBBoxHead', in_channels=256, fc_out_channels=1024,
         roi_feat_size=7, num_classes=1203,
         bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4, target_stds=stds),
         reg_class_agnostic=True,
         loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
         loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0),
         init_cfg=dict(type='Constant', val=0.001, bias=-6.5, override=dict(name='fc_cls')))
    for stds in ([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
                 [0.033, 0.033, 0.067, 0.067])]))
