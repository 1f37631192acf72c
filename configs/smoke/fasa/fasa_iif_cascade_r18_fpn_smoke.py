# Smoke twin of configs/fasa/fasa_iif_cascade_r101_rfs_cos_norm_4x4_2x_lvis_v1.py: Cascade Mask
# R-CNN (3 stages, FASA + IIF raw heads, cosine classifier temperature 8, normalised mask
# predictor) on the built-in small dataset, 2 epochs with the validation phase, fp32, no RFS.
# As in the research run, no virtual features (aug_start_epoch=None); the test suite also
# trains it with aug_start_epoch=1.
_base_ = ['../_base_smoke.py', '../../_base_/models/bbox_head_init_research.py']
model = dict(
    type='CascadeRCNN',
    rpn_head=dict(loss_bbox=dict(_delete_=True, type='SmoothL1Loss', beta=1.0 / 9.0,
                                 loss_weight=1.0)),
    roi_head=dict(
        _delete_=True,
        type='FASACascadeRoIHead',
        num_stages=3,
        stage_loss_weights=[1, 0.5, 0.25],
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=64, featmap_strides=[4, 8, 16, 32]),
        bbox_head=[
            dict(type='FASAShared2FCBBoxHead', in_channels=64, fc_out_channels=256,
                 roi_feat_size=7, num_classes=8,
                 bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4,
                                 target_stds=stds),
                 reg_class_agnostic=False,
                 cls_predictor_cfg=dict(type='NormedLinear', tempearture=8),
                 loss_cls=dict(type='IIFLoss', variant='raw',
                               weights='data/smoke/annotations/lvis_v1_train.json',
                               num_classes=8),
                 loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0),
                 instance_counts='data/smoke/annotations/lvis_v1_train.json',
                 fasa_cfg=dict(aug_start_epoch=None),
                 init_cfg={{_base_.bbox_head_init_research}})
            for stds in ([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
                         [0.33, 0.33, 0.067, 0.067])],
        mask_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=64, featmap_strides=[4, 8, 16, 32]),
        mask_head=dict(
            type='FCNMaskHead', num_convs=2, in_channels=64, conv_out_channels=64,
            num_classes=8, predictor_cfg=dict(type='NormedConv2d', tempearture=20),
            loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))),
    train_cfg=dict(
        rcnn=[
            dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=iou, neg_iou_thr=iou,
                               min_pos_iou=iou, match_low_quality=False, ignore_iof_thr=-1),
                 sampler=dict(type='RandomSampler', num=128, pos_fraction=0.25,
                              neg_pos_ub=-1, add_gt_as_proposals=True),
                 mask_size=28, pos_weight=-1, debug=False)
            for iou in (0.5, 0.6, 0.7)]),
    test_cfg=dict(rcnn=dict(nms=dict(type='nms', iou_threshold=0.3))))
workflow = [('train', 1), ('val', 1)]
custom_hooks = [dict(type='NumClassCheckHook'), dict(type='EpochSeedHook'),
                dict(type='FASAHook')]
runner = dict(type='EpochBasedRunner', max_epochs=2)
evaluation = dict(interval=2)
