# The three box heads (one per stage) of the kit's LVIS Cascade Mask R-CNN and HTC configs, for
# IIF and for the softmax baselines; only the regression target scale differs between stages,
# and only the classification loss and fc_cls init between the two lists (as the research's
# iif_cascade / iif_htc configs and their *_softmax twins, kostas1515/iif@747b041).
# Use with  _base_ = [..., '<path>/_base_/models/cascade_bbox_heads_lvis.py']  and
#   roi_head=dict(bbox_head={{_base_.cascade_bbox_heads_iif}})  (or ..._softmax).
cascade_bbox_heads_iif = [
    dict(type='Shared2FCBBoxHead', in_channels=256, fc_out_channels=1024,
         roi_feat_size=7, num_classes=1203,
         bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4,
                         target_stds=stds),
         reg_class_agnostic=True,
         loss_cls=dict(type='IIFLoss', variant='raw', weights='lvis_v1', num_classes=1203),
         loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0),
         init_cfg=dict(type='Constant', val=0.001, bias=0.0, override=dict(name='fc_cls')))
    for stds in ([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
                 [0.033, 0.033, 0.067, 0.067])]
# The research softmax baselines: plain cross-entropy, fc_cls weights 0.001 with bias -6.5.
cascade_bbox_heads_softmax = [
    dict(head, loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
         init_cfg=dict(type='Constant', val=0.001, bias=-6.5, override=dict(name='fc_cls')))
    for head in cascade_bbox_heads_iif]
