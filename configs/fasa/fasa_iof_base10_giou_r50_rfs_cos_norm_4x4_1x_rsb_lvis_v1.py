# A GUESS at the unreleased research config behind the published IIF_r50_rsb row:
#   fasa_iof_base10_giou16_r50_rfs_cos_norm_4x4_1x_rsb.py
# which the research README (kostas1515/iif@747b041, instance_segmentation/README.md) links
# on Dropbox but the repository does not contain. Its name differs from the released
# configs/fasa/fasa_iof_base10_r50_rfs_cos_norm_4x4_1x_rsb.py only by "giou16"; this file reads
# that as a GIoU box-regression loss of weight 16 in the RoI head (decoded boxes, as mmdet
# requires for IoU losses). Both the loss and the weight are inferred from the file name,
# not verified: mmdet's own Faster R-CNN GIoU config uses weight 10
# (--cfg-options model.roi_head.bbox_head.loss_bbox.loss_weight=10.0).
# Everything else as the kit's twin,
#   configs/fasa/fasa_iof_base10_r50_rfs_cos_norm_4x4_1x_rsb_lvis_v1.py
# (R50-RSB backbone from a local file: see its header for the option; AdamW; NMS 0.3;
# mask_thr_binary 0.4).
_base_ = './fasa_iof_base10_r50_rfs_cos_norm_4x4_1x_rsb_lvis_v1.py'
model = dict(roi_head=dict(bbox_head=dict(
    reg_decoded_bbox=True,
    loss_bbox=dict(_delete_=True, type='GIoULoss', loss_weight=16.0))))
