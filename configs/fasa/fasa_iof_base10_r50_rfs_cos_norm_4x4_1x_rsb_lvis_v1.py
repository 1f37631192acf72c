# FASA + IOF base10 with a ResNet-50 "ResNet strikes back" (RSB-A1) ImageNet backbone, 1x,
# AdamW (lr 2e-4, weight decay 0.05, no decay on norms), LVIS v1. Research:
# configs/fasa/fasa_iof_base10_r50_rfs_cos_norm_4x4_1x_rsb.py. The published IIF_r50_rsb row
# (mask AP 27.4) links another config, fasa_iof_base10_giou16_r50_rfs_cos_norm_4x4_1x_rsb.py,
# which is not in the research repository: this is not known to be its recipe (MODEL_ZOO.md;
# the released checkpoint is tested with configs/zoo/iif_r50_rsb_released_test.py).
#
# The backbone weights are the mmcls checkpoint
#   resnet50_8xb256-rsb-a1-600e_in1k_20211228-20e21305.pth
# whose original host (download.openmmlab.com) is down: get the file yourself and pass
#   --cfg-options model.backbone.init_cfg.checkpoint=/path/to/that.pth
# to tools/train.py / tools/dist_train.sh. Without it the checks stop with an error naming this
# option. tools/test.py needs no path (the trained checkpoint holds every weight).
#
# mask_thr_binary 0.4: the research README says the published rsb mask AP used 0.4 and its
# log 0.5, which gives 0.1 less mask AP
# (--cfg-options model.test_cfg.rcnn.mask_thr_binary=0.5).
_base_ = './fasa_iof_base10_r50_rfs_cos_norm_4x4_2x_lvis_v1.py'
model = dict(
    backbone=dict(
        type='LocalPretrainedResNet',
        checkpoint_hint=' (the RSB-A1 ResNet-50 of mmcls: '
                        'resnet50_8xb256-rsb-a1-600e_in1k_20211228-20e21305.pth)',
        init_cfg=dict(type='Pretrained', prefix='backbone.', checkpoint=None)),
    test_cfg=dict(rcnn=dict(mask_thr_binary=0.4)))
optimizer = dict(_delete_=True, type='AdamW', lr=0.0002, weight_decay=0.05,
                 paramwise_cfg=dict(norm_decay_mult=0., bypass_duplicate=True))
lr_config = dict(step=[8, 11])
runner = dict(type='EpochBasedRunner', max_epochs=12)
evaluation = dict(interval=12)
