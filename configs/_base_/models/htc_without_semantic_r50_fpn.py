# Hybrid Task Cascade without the semantic branch, ResNet-50 FPN, for LVIS: the cascade model
# with interleaved box/mask stages and mask information flow, as the research's
# configs/htc/htc_without_semantic_r50_fpn_1x_lvis_v1.py (kostas1515/iif@747b041). No semantic
# segmentation head, so it needs only the LVIS annotations (no COCO-stuff maps).
# As in the research, whose LVIS config replaces the mask-head list by three
# dict(type='HTCMaskHead', num_classes=1203): every stage keeps HTCMaskHead's defaults,
# including a residual conv in stage 1 that gets no input (hence find_unused_parameters), and
# the box-stage assigners keep MaxIoUAssigner's default match_low_quality=True.
_base_ = './cascade_mask_rcnn_r50_fpn.py'
num_classes = 1203
model = dict(
    type='HybridTaskCascade',
    roi_head=dict(
        type='HybridTaskCascadeRoIHead',
        interleaved=True,
        mask_info_flow=True,
        mask_head=[dict(type='HTCMaskHead', num_classes=num_classes) for _ in range(3)]),
    train_cfg=dict(
        rcnn=[
            dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=iou, neg_iou_thr=iou,
                               min_pos_iou=iou, ignore_iof_thr=-1),
                 sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25,
                              neg_pos_ub=-1, add_gt_as_proposals=True),
                 mask_size=28, pos_weight=-1, debug=False)
            for iou in (0.5, 0.6, 0.7)]))
find_unused_parameters = True
