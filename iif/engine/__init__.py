"""Run logic shared by tools/train.py, tools/test.py, the container entrypoint and the
reproduce queue: device and process-group set-up, input checks, training, sharded
inference and evaluation, and the records every run writes."""
import warnings

# mmcv 1.7 announces its 2.0 rename on every import; the kit pins 1.7.2 on purpose. Set here,
# before any engine module imports mmcv (tools/*.py, iif.mmdet_plugins).
warnings.filterwarnings('ignore', message='On January 1, 2023, MMCV will release v2.0.0')
