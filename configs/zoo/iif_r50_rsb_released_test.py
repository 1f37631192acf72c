# Test-only: the research's released IIF_r50_rsb checkpoint (Mask R-CNN, ResNet-50 RSB-A1
# backbone, FASA + IIF base10_obj + RFS + cosine classifier T=8 + normalised mask head, 1x,
# AdamW) on LVIS v1 val. See MODEL_ZOO.md.
#
# Weights: epoch_12.pth linked from the IIF_r50_rsb row of kostas1515/iif
# instance_segmentation/README.md at 5939b4d (HEAD 747b041); the URL is in
# iif/data/published_results.csv. Expected (that version): mask AP 27.4, APr 19.4, APc 26.2
# (26.8 in versions a4456bb..a7561f3), APf 31.5, box AP 27.4.
# Config behind it: linked, not in the repository:
#   fasa_iof_base10_giou16_r50_rfs_cos_norm_4x4_1x_rsb.py
# (its name suggests a GIoU box loss, which changes training only). The nearest research
# config, fasa_iof_base10_r50_rfs_cos_norm_4x4_1x_rsb.py, has the same test path as this file.
#
# mask_thr_binary 0.4: the README says the published mask AP used 0.4 and its log 0.5 (27.3).
#   docker compose run test configs/zoo/iif_r50_rsb_released_test.py /path/to/epoch_12.pth 4
_base_ = './_base_released_r50.py'
model = dict(test_cfg=dict(rcnn=dict(mask_thr_binary=0.4)))
