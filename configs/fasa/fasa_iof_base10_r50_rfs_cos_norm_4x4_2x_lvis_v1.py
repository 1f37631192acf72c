# FASA + IOF base10 (IIF variant base10_obj, log10(M / m_c) over instance counts) on Mask
# R-CNN R50-FPN, LVIS v1, 2x, with every enhancement: RFS 1e-3, cosine classifier
# (temperature 8), normalised mask predictor (temperature 20). The research README's example
# (configs/fasa/fasa_iof_base10_r50_rfs_cos_norm_4x4_2x.py), with its test-time box NMS IoU
# threshold of 0.3 (0.5 in the other configs; change with
# --cfg-options model.test_cfg.rcnn.nms.iou_threshold=0.5).
_base_ = './fasa_iif_r50_rfs_cos_norm_4x4_2x_lvis_v1.py'
model = dict(
    roi_head=dict(bbox_head=dict(loss_cls=dict(variant='base10_obj'))),
    test_cfg=dict(rcnn=dict(nms=dict(type='nms', iou_threshold=0.3))))
