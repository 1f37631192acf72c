# Smoke FASA + IOF base10 (base10_obj) with test NMS 0.3, as
# configs/fasa/fasa_iof_base10_r50_rfs_cos_norm_4x4_2x_lvis_v1.py.
_base_ = './fasa_iif_r18_fpn_smoke.py'
model = dict(
    roi_head=dict(bbox_head=dict(loss_cls=dict(variant='base10_obj'))),
    test_cfg=dict(rcnn=dict(nms=dict(type='nms', iou_threshold=0.3))))
