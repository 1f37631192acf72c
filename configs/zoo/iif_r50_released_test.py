# Test-only: the research's released IIF_r50 checkpoint (Mask R-CNN R50-FPN) on LVIS v1 val.
# See MODEL_ZOO.md.
#
# Weights: the unnamed Google Drive file linked from the IIF_r50 row of kostas1515/iif
# instance_segmentation/README.md at 5939b4d (HEAD 747b041); versions a4456bb..a7561f3 linked
# the same file from the IIF_r50_rsb row. The URL is in iif/data/published_results.csv.
# Expected (that version): mask AP 26.3, APr 18.6, APc 25.2, APf 30.8, box AP 25.8.
# Config behind it: probable, unverified: fasa_iof_base10_r50_rfs_cos_norm_4x4_2x.py (the
# research README's "IOF base10 with all enhancements" example); no README version names it.
# This file takes that config's test path (base10_obj, cosine T=8, normed mask T=20, NMS 0.3,
# mask_thr_binary 0.5). `test` prints the checkpoint's own meta (exp_name, work_dir), which
# tells which run the file is; if it names another config, these numbers do not apply.
#   docker compose run test configs/zoo/iif_r50_released_test.py /path/to/the_file.pth 4
_base_ = './_base_released_r50.py'
model = dict(test_cfg=dict(rcnn=dict(mask_thr_binary=0.5)))
