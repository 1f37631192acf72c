# Shared test-only model for the research's released Mask R-CNN R50-FPN checkpoints (LVIS v1).
# The research trained them with its FASA head (Shared2FCFASABBoxHead) in its mmdet 2.16 fork;
# at test time that head is a plain Shared2FCBBoxHead (FASA only adds virtual features in
# training), so this model has the research's test path without the kit's FASA code:
# - classifier: cosine NormedLinear, temperature 8 (cls_predictor_cfg of
#   iif:instance_segmentation/configs/fasa/fasa_iof_base10_r50_rfs_cos_norm_4x4_2x.py);
# - IIF base10_obj (log10(M / m_c), instance counts) at test: scores = softmax(w * z), as the
#   research's FasaIIFLoss.get_activation with variant='base10_obj' ("iof_base10" in the name);
# - mask predictor NormedConv2d, temperature 20;
# - test-time box NMS IoU 0.3 (that config's test_cfg), score_thr 1e-4, 300 detections.
# The research checkpoint's FASA tensors (feature_mean, feature_std, feature_used, prob_list,
# cum_loss_perclass_*) are not used by this model: `test` drops them with a note. Every tensor
# the model has must be in the checkpoint. Not a training recipe: `train` refuses zoo configs.
_base_ = ['../_base_/models/mask_rcnn_r50_fpn.py', '../_base_/datasets/lvis_v1_instance.py',
          '../_base_/default_runtime.py']
model = dict(
    backbone=dict(init_cfg=None),  # the checkpoint holds every weight: nothing to download
    roi_head=dict(
        bbox_head=dict(
            cls_predictor_cfg=dict(type='NormedLinear', tempearture=8),
            loss_cls=dict(_delete_=True, type='IIFLoss', variant='base10_obj',
                          weights='lvis_v1', num_classes=1203)),
        mask_head=dict(predictor_cfg=dict(type='NormedConv2d', tempearture=20))),
    test_cfg=dict(rcnn=dict(nms=dict(type='nms', iou_threshold=0.3))))
zoo = dict(
    test_only=True,
    ignore_checkpoint_keys=[f'roi_head.bbox_head.{k}' for k in (
        'feature_mean', 'feature_std', 'feature_used', 'prob_list',
        'cum_loss_perclass_t0', 'cum_loss_perclass_t1')])
