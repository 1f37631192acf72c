# IIF variant 'base10' (see docs/method.md: The method) on Mask R-CNN R50-FPN, 1x, LVIS v1.
_base_ = '../iif_r50_fpn_4x4_1x_lvis_v1.py'
model = dict(roi_head=dict(bbox_head=dict(loss_cls=dict(variant='base10'))))
